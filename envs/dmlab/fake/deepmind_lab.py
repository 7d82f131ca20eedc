"""A fake `deepmind_lab` module with DeepMind Lab's Python API, for tests and for trying the bridge
without a DeepMind Lab build (put this directory on PYTHONPATH).

It is as strict as the real module (google-deepmind/lab python/dmlab_module.c,
engine/code/deepmind/dmlab_connect.c, deepmind/engine/context.cc, and the Lua of the five levels:
game_scripts/levels/seekavoid_arena_01.lua, levels/contributed/dmlab30/{rooms_watermaze,
explore_goal_locations_small,lasertag_three_opponents_small,rooms_keys_doors_puzzle}.lua, the factories they
call (factories/seek_avoid_factory.lua, rooms/navigate_watermaze_factory.lua, explore/factory.lua,
explore/goal_locations_factory.lua, lasertag/factory.lua, lasertag/procedural_factory.lua,
rooms/keys_doors_puzzle_factory.lua), map_generators/keys_doors/configs.lua and decorators/
setting_overrides.lua, custom_observations.lua, debug_observations.lua; the Lua line numbers in error texts
are those of setting_overrides.lua at ba3d421 and configs.lua at 4aefea1), with its exception types and texts:

- the constructor's arguments; the renderer's library must be in the runfiles folder
  (`libdmlab_headless_sw.so` / `libdmlab_headless_hw.so`, stubs here), else "Failed to connect RL
  API" (what a folder holding only deepmind_lab.so gives);
- engine settings are parsed as the engine does (`width` and `height` positive multiples of 4, ints,
  booleans "true"/"false"); any other setting goes to the level. Four of the five levels (setting_overrides.lua)
  take the decorator's white list and their own parameters, dotted into nested ones (lasertag's `botCount`,
  `mazeGenerationParams.height`; watermaze's `spawnRadius`; explore's `mazeHeight`; `camera.2`), and refuse
  anything else at construction ("Invalid setting"); rooms_keys_doors_puzzle ignores its own white list
  (episodeLengthSeconds too: its episodes last 60 s whatever the config says) and hands every other setting to
  its map generator, which refuses one it does not know at each reset ("Unrecognized config key");
- an unknown level fails with the engine's "Level not found: Failed to open file '...'";
- `reset(episode=-1, seed=None)`, `step(action, num_steps=1)` returning the summed reward,
  `num_steps()`, `observations()` only while running, `events()` only once an episode started;
- after `close()` only `is_running()` and `close()` are allowed: the real module releases its engine
  and segfaults on the rest, so the fake kills its process with SIGSEGV;
- the level cache protocol (`fetch(key, pk3_path)` / `write(key, pk3_path)`) around each map
  compile of a procedural level.

Every level offers the real levels' 43 observations with their specs (the engine's 9, the 5 of
custom_observations.lua and the 29 DEBUG.* ones debug_observations.lua adds; observation_spec() in the
real order, an unknown name refused with "Unknown observation"). What it renders and rewards is made up,
but deterministic under the seed:

- the frame is a flat colour drawn from the episode seed, shifted by the frame count; the red values
  of the first 7 pixels of row 0 hold the last action + 128 (so tests can see which 7-int action
  the bridge applied);
- each frame pays MOVE_BACK_FORWARD (+1 forward, -1 back), plus 10 on one seeded frame;
- unless the config has minimalUI 'true', a HUD is drawn: the bottom row is white;
- the DEBUG.CAMERA* views show that frame without the HUD (PLAYER_VIEW with its 3 x 3 reticle); per-player
  observations have one entry per player (lasertag: the agent, then its bots; DEBUG.PLAYERS.ID counts from
  1, IS_BOT marks the bots); FRAMES_REMAINING_AT_60 counts down; strings are empty; positions, velocities,
  scores and flags (state NONE) are zeros;
- episodes last episodeLengthSeconds x fps frames (the level's length unless the config sets
  `episodeLengthSeconds`, on the levels whose setting overrides read it).

Map compiles take no time, unless `CPC_LAB_FAKE_COMPILE_GATE` names a folder: then each compile
appends `start <pid> <key>` to `<folder>/log`, waits until `<folder>/release` exists, and appends
`end <pid> <key>`, so tests can hold compiles and see how many ran at once.

Levels are the five of the CPC paper at their real paths, plus test levels under `tests/`:
`tests/fake_error_in_step` raises inside `step` at frame 8, `tests/fake_abort_in_step` kills the
process at frame 8 (a crash in the engine), and `tests/fake_seeded_length`'s episodes last
4 x (2 + seed % 5) frames (levels whose episodes end at different times, as real ones do).
"""

import copy
import os
import signal
import sys
import tempfile
import time

import numpy as np

FAKE = True  # lets `cpc-lab doctor` tell the fake from a real build

_ACTION_SPEC = (
    ('LOOK_LEFT_RIGHT_PIXELS_PER_FRAME', -512, 512),
    ('LOOK_DOWN_UP_PIXELS_PER_FRAME', -512, 512),
    ('STRAFE_LEFT_RIGHT', -1, 1),
    ('MOVE_BACK_FORWARD', -1, 1),
    ('FIRE', 0, 1),
    ('JUMP', 0, 1),
    ('CROUCH', 0, 1),
)

# Each level's parameters as its factory leaves them for setting_overrides.lua (the kwargs of the level's
# createLevelApi call, with the factory's defaults; rooms_keys_doors_puzzle's factory reads its settings
# itself). The test levels take only an episode length.
_EXPLORE_GOAL_LOCATIONS_SMALL = {  # factories/explore/goal_locations_factory.lua, factories/explore/factory.lua
    'overrideGoalStartRow': 0, 'overrideGoalEndRow': 0, 'objectEntity': 'G', 'useSkybox': True,
    'episodeLengthSeconds': 90, 'extraConnectionProbability': 0.0, 'hasDoors': False, 'maxVariations': 1,
    'mazeHeight': 11, 'mazeWidth': 11, 'objectCount': 4, 'quickRestart': True, 'randomSeed': False, 'roomCount': 4,
    'roomMaxSize': 5, 'roomMinSize': 3, 'spawnCount': 5, 'spawnEntity': 'P', 'decalFrequency': 0.1, 'decalScale': 1.0,
    'wallDecoration': '', 'overrideEntityLayer': '', 'overrideVariationsLayer': '',
}
_LASERTAG_THREE_OPPONENTS_SMALL = {  # factories/lasertag/procedural_factory.lua, factories/lasertag/factory.lua
    'episodeLengthSeconds': 240, 'botCount': 3, 'color': True, 'useSkybox': True, 'skill': 4.0,
    'mazeGenerationParams': {'height': 11, 'width': 11, 'maxRooms': 3, 'roomMinSize': 3, 'roomMaxSize': 5,
                             'roomSpawnCount': 3},
    'pickupParams': {'pickupCount': 2, 'weaponCount': 1},
}
_KEYS_DOORS_PUZZLE = 'contributed/dmlab30/rooms_keys_doors_puzzle'
# path -> (parameters, whether each episode compiles a new map)
_LEVELS = {
    'contributed/dmlab30/rooms_watermaze':  # factories/rooms/navigate_watermaze_factory.lua
        ({'mapName': 'em_watermaze', 'spawnRadius': 580, 'episodeLengthSeconds': 120}, False),
    'contributed/dmlab30/explore_goal_locations_small': (_EXPLORE_GOAL_LOCATIONS_SMALL, True),
    'seekavoid_arena_01':  # factories/seek_avoid_factory.lua
        ({'mapName': 'seekavoid_arena_01', 'episodeLengthSeconds': 20, 'camera': [250, -100, 900]}, False),
    'contributed/dmlab30/lasertag_three_opponents_small': (_LASERTAG_THREE_OPPONENTS_SMALL, True),
    _KEYS_DOORS_PUZZLE: ({'episodeLengthSeconds': 60}, True),
    'tests/fake_error_in_step': ({'episodeLengthSeconds': 60}, False),
    'tests/fake_abort_in_step': ({'episodeLengthSeconds': 60}, False),
    'tests/fake_seeded_length': ({'episodeLengthSeconds': 60}, False),
}
_FAULT_FRAME = 8

# The engine's settings (dmlab_connect.c dmlab_setting) by how it parses them; the rest go to the level.
_INT_SETTINGS = ('width', 'height', 'maxAltCameraWidth', 'maxAltCameraHeight', 'serverPort', 'port', 'gpuDeviceIndex',
                 'mixerSeed')
_BOOL_SETTINGS = ('server', 'client', 'hasAltCameras', 'localLevelCache', 'globalLevelCache', 'logToStdErr',
                  'minimalUI', 'reducedUI', 'nativeApp', 'use_pbos')
_TEXT_SETTINGS = ('levelName', 'levelDirectory', 'vmMode', 'appendCommand', 'record', 'demo', 'video', 'demofiles',
                  'playerName')
# Level settings (setting_overrides.lua): accepted without being read, ignored with a warning; any other
# must name one of the level's parameters, or what the decorator adds to them (_DECORATOR_PARAMS).
_PARAMS_WHITELIST = ('episodeLengthSeconds', 'invocationMode', 'allowHoldOutLevels', 'levelGenerator', 'playerId',
                     'players', 'randomSeed', 'datasetPath', 'enableCameraMovement', 'logLevel')
_PARAMS_DEPRECATED = ('__platform__', 'textureRandomization')
_DECORATOR_PARAMS = {'camera': [0, 0, 500], 'cameraLook': [90, 90, 0], 'gadgetSelect': False, 'gadgetSwitch': False,
                     'datasetPath': ''}  # the camera is debug_observations.lua's default
# rooms_keys_doors_puzzle (factories/rooms/keys_doors_puzzle_factory.lua): its own white list (without
# enableCameraMovement) is ignored; every other setting goes to its map generator, whose configuration
# (map_generators/keys_doors/configs.lua defaultConfig) refuses, at each reset, a key it has no default for.
_KEYS_DOORS_WHITELIST = tuple(k for k in _PARAMS_WHITELIST if k != 'enableCameraMovement')
_KEYS_DOORS_CONFIG = ('coreSequenceLength', 'coreNoEarlyKeys', 'numTrapRooms', 'probTrapRoomDuringCore',
                      'numEasyExtraRooms', 'numRedHerringRooms', 'numMaxEmptyRooms', 'redHerringRespectCoreOrder',
                      'probRedHerringRoomDuringCore', 'numRedHerringRoomUselessKeys', 'numUnopenableDoors',
                      'numUselessKeys', 'extraUsefulKeys', 'numOpenableDoors', 'compact', 'fillWithEmptyRooms',
                      'probEmptyRoomDuringCore', 'startRoomGridPositions', 'roomGridHeight', 'roomGridWidth',
                      'addToGoalRoom', 'possibleColors', 'verbose')

# The observations of every level, in observation_spec() order, as (name, shape, dtype): the engine's
# (dmlab_connect.c kObservationNames, shapes from its dmlab_observation_spec), then those
# custom_observations.lua adds when the level initialises, then debug_observations.lua's, which it adds
# too. 'h' and 'w' stand for the frame's height and width, 0 for a length that varies (one entry per
# player); strings have shape () and dtype str in observation_spec() (dmlab_module.c).
_U8, _F64 = np.uint8, np.float64
_OBSERVATIONS = (
    ('RGB_INTERLEAVED', ('h', 'w', 3), _U8),
    ('RGBD_INTERLEAVED', ('h', 'w', 4), _U8),
    ('RGB', (3, 'h', 'w'), _U8),
    ('RGBD', (4, 'h', 'w'), _U8),
    ('BGR_INTERLEAVED', ('h', 'w', 3), _U8),
    ('BGRD_INTERLEAVED', ('h', 'w', 4), _U8),
    ('MAP_FRAME_NUMBER', (1,), _F64),
    ('RGB_INTERLACED', ('h', 'w', 3), _U8),  # deprecated names of the interleaved ones
    ('RGBD_INTERLACED', ('h', 'w', 4), _U8),
    ('VEL.TRANS', (3,), _F64),
    ('VEL.ROT', (3,), _F64),
    ('INSTR', (), str),
    ('TEAM.SCORE', (2,), _F64),
    ('FRAMES_REMAINING_AT_60', (1,), _F64),
    ('DEBUG.CAMERA_INTERLEAVED.TOP_DOWN', ('h', 'w', 3), _U8),
    ('DEBUG.CAMERA_INTERLEAVED.PLAYER_VIEW', ('h', 'w', 3), _U8),
    ('DEBUG.CAMERA_INTERLEAVED.PLAYER_VIEW_NO_RETICLE', ('h', 'w', 3), _U8),
    ('DEBUG.CAMERA.TOP_DOWN', (3, 'h', 'w'), _U8),
    ('DEBUG.CAMERA.PLAYER_VIEW', (3, 'h', 'w'), _U8),
    ('DEBUG.CAMERA.PLAYER_VIEW_NO_RETICLE', (3, 'h', 'w'), _U8),
    ('DEBUG.MAZE.LAYOUT', (), str),
    ('DEBUG.MAZE.VARIATION', (), str),
    ('DEBUG.POS.TRANS', (3,), _F64),
    ('DEBUG.POS.ROT', (3,), _F64),
    ('DEBUG.PLAYER_ID', (1,), _U8),
    ('DEBUG.PLAYERS.ARMOR', (0,), _F64),
    ('DEBUG.PLAYERS.GADGET', (0,), _F64),
    ('DEBUG.PLAYERS.GADGET_AMOUNT', (0,), _F64),
    ('DEBUG.PLAYERS.HEALTH', (0,), _F64),
    ('DEBUG.PLAYERS.HOLDING_FLAG', (0,), _F64),
    ('DEBUG.PLAYERS.ID', (0,), _U8),
    ('DEBUG.PLAYERS.EYE.POS', (0, 3), _F64),
    ('DEBUG.PLAYERS.EYE.ROT', (0, 3), _F64),
    ('DEBUG.PLAYERS.VELOCITY', (0, 3), _F64),
    ('DEBUG.PLAYERS.NAME', (), str),
    ('DEBUG.PLAYERS.TEAM', (0,), _F64),
    ('DEBUG.PLAYERS.CAPTURES', (0,), _F64),
    ('DEBUG.PLAYERS.SCORE', (0,), _F64),
    ('DEBUG.PLAYERS.IS_BOT', (0,), _U8),
    ('DEBUG.FLAGS.RED', (5,), _F64),
    ('DEBUG.FLAGS.BLUE', (5,), _F64),
    ('DEBUG.FLAGS.RED_HOME', (4,), _F64),
    ('DEBUG.FLAGS.BLUE_HOME', (4,), _F64),
)
_SPECS = {name: (shape, dtype) for name, shape, dtype in _OBSERVATIONS}

_runfiles_path = os.path.dirname(os.path.abspath(__file__))


def version():
  return '1.0'


def runfiles_path():
  return _runfiles_path


def set_runfiles_path(path):
  global _runfiles_path
  _runfiles_path = path
  return True


def _engine_setting(key, value):
  """The value the engine keeps for `key`, or raises its error text (a RuntimeError as the module does)."""

  def fail(message):
    raise RuntimeError('Failed to apply setting \'%s = %s\' - "%s"' % (key, value, message))

  if key in _INT_SETTINGS:
    try:
      v = int(value, 10)
    except ValueError:
      fail('Invalid int setting %s\n' % value)
    if key in ('width', 'height') and (v < 4 or v % 4 != 0):
      fail("'%s' must be a positive multiple of 4. Actual %d" % (key, v))
    return v
  if key in _BOOL_SETTINGS:
    if value not in ('true', 'false'):
      fail('Invalid boolean arg must be either "true" or "false"; actual "%s"\n' % value)
    return value == 'true'
  if key == 'fps':
    try:
      return float(value)
    except ValueError:
      fail('Invalid double arg %s\n' % value)
  return value


class Lab(object):
  """deepmind_lab.Lab(level, observations, config={}, renderer='software', level_cache=None)."""

  def __init__(self, level, observations, config=None, renderer='software', level_cache=None):
    if not isinstance(level, str):
      raise TypeError('argument 1 must be str, not %s' % type(level).__name__)
    if not isinstance(observations, list):
      raise TypeError('argument 2 must be list, not %s' % type(observations).__name__)
    if config is not None and not isinstance(config, dict):
      raise TypeError('argument 3 must be dict, not %s' % type(config).__name__)
    if not isinstance(renderer, str):
      raise TypeError('argument 4 must be str, not %s' % type(renderer).__name__)
    self._status = 'closed'  # as the real object until it connects
    if renderer and renderer not in ('software', 'hardware'):
      raise RuntimeError('Failed to set renderer must be "hardware" or "software" actual "%s"!' % renderer)
    library = os.path.join(_runfiles_path, 'libdmlab_headless_%s.so' % ('hw' if renderer == 'hardware' else 'sw'))
    if not os.path.isfile(library):
      sys.stderr.write('Failed to open library! - %s\n%s: cannot open shared object file: No such file or directory\n'
                       % (library, library))
      raise RuntimeError('Failed to connect RL API')
    self._status = 'uninitialized'
    engine = {'width': 320, 'height': 240, 'fps': 60.0, 'minimalUI': False}
    level_settings = {}
    for key, value in [('fps', '60')] + list((config or {}).items()):
      if not isinstance(key, str) or not isinstance(value, str):
        raise TypeError('bad argument type for built-in operation')
      if key in _INT_SETTINGS + _BOOL_SETTINGS + _TEXT_SETTINGS + ('fps',):
        engine[key] = _engine_setting(key, value)
      else:
        level_settings[key] = value
    if level not in _LEVELS:
      raise RuntimeError('Failed to init environment - "Level not found: Failed to open file \'%s\'"' %
                         os.path.join(_runfiles_path, 'baselab', 'game_scripts', 'levels', level + '.lua'))
    params, self._compiles = _LEVELS[level]
    if level == _KEYS_DOORS_PUZZLE:  # its settings never reach its parameters; its generator refuses these at reset
      self._refused_at_reset = [k for k in level_settings if k not in _KEYS_DOORS_WHITELIST + _KEYS_DOORS_CONFIG]
    else:
      self._refused_at_reset = []
      params = _override(copy.deepcopy(dict(_DECORATOR_PARAMS, **params)), level_settings)
    try:
      seconds = float(params['episodeLengthSeconds'])
      self._players = 1 + max(0, int(float(params.get('botCount', 0))))  # lasertag's bots
    except ValueError as e:
      raise RuntimeError('Failed to init environment - "%s"' % e)
    for name in observations:
      if name not in _SPECS:
        raise ValueError("Unknown observation '%s'." % name)
    self._level = level
    self._width, self._height, self._fps = engine['width'], engine['height'], engine['fps']
    self._episode_frames = max(1, int(round(seconds * self._fps)))
    self._hud = not engine['minimalUI']
    self._observations = list(observations)
    self._level_cache = level_cache
    self._episode = 0
    self._num_steps = 0
    self._frame = 0
    self._last_action = np.zeros(7, dtype=np.intc)

  def _alive(self, method):
    if self._status == 'closed':
      sys.stderr.write('[fake deepmind_lab] %s() after close(): the real module segfaults here\n' % method)
      sys.stderr.flush()
      os.kill(os.getpid(), signal.SIGSEGV)

  def _running(self):
    return self._status == 'running'

  def reset(self, episode=-1, seed=None):
    self._alive('reset')
    if episode >= 0:
      self._episode = episode
    if seed is None:
      seed = int(np.random.randint(0, 2 ** 31 - 1))
    elif not isinstance(seed, int) or isinstance(seed, bool):
      raise ValueError("'seed' must be int or None, was '%s'." % type(seed).__name__)
    if self._refused_at_reset:
      configs = os.path.join(_runfiles_path, 'baselab', 'game_scripts', 'map_generators', 'keys_doors', 'configs.lua')
      raise RuntimeError('Failed to start environment - "%s:114: Unrecognized config key: %s"' %
                         (configs, self._refused_at_reset[0]))
    if self._compiles:
      self._build_map(seed)
    if self._level == 'tests/fake_seeded_length':
      self._episode_frames = 4 * (2 + seed % 5)
    rng = np.random.RandomState(seed & 0xFFFFFFFF)
    self._colour = rng.randint(0, 256, size=3).astype(np.int64)
    self._goal_frame = int(rng.randint(0, self._episode_frames))
    self._frame = 0
    self._num_steps = 0
    self._last_action = np.zeros(7, dtype=np.intc)
    self._episode += 1
    self._status = 'running'
    return True

  def _build_map(self, seed):
    key = 'fake_%s_%d.pk3' % (self._level.replace('/', '_'), seed)
    pk3_path = os.path.join(tempfile.gettempdir(), 'fake_dmlab_%d_%s' % (os.getpid(), key))
    try:
      if self._level_cache is None or not self._level_cache.fetch(key, pk3_path):
        _compile(key, pk3_path)
        if self._level_cache is not None:
          self._level_cache.write(key, pk3_path)
    finally:
      if os.path.exists(pk3_path):
        os.remove(pk3_path)

  def num_steps(self):
    self._alive('num_steps')
    return self._num_steps

  def is_running(self):
    return self._running()

  def fps(self):
    self._alive('fps')
    return int(self._fps)

  def step(self, action, num_steps=1):
    self._alive('step')
    if not isinstance(action, np.ndarray):
      raise TypeError('argument 1 must be numpy.ndarray, not %s' % type(action).__name__)
    if not self._running():
      raise RuntimeError('Environment in wrong status to advance.')
    if action.ndim != 1 or action.shape[0] != len(_ACTION_SPEC):
      raise ValueError('action must have shape (%i)' % len(_ACTION_SPEC))
    if action.dtype != np.intc:
      raise ValueError('action must have dtype np.intc')
    self._last_action = action.copy()
    reward = 0.0
    for _ in range(num_steps):
      if self._frame == _FAULT_FRAME and self._level == 'tests/fake_error_in_step':
        self._status = 'error'
        raise ValueError('Failed to advance environment "[fake] scripted error at frame %d"' % self._frame)
      if self._frame == _FAULT_FRAME and self._level == 'tests/fake_abort_in_step':
        os._exit(134)
      reward += float(action[3]) + (10.0 if self._frame == self._goal_frame else 0.0)
      self._frame += 1
      if self._frame >= self._episode_frames:
        self._status = 'terminated'
        break
    self._num_steps += num_steps
    return reward

  def _shape(self, name):
    """The spec's shape of observation `name` at this frame size (0: a length that varies)."""
    if name.endswith('_INTERLACED'):
      sys.stderr.write("Using deprecated observation format: '%s'\n" % name)  # as the engine, at each spec
    return tuple({'h': self._height, 'w': self._width}.get(d, d) for d in _SPECS[name][0])

  def _render(self, name):
    shape, dtype = self._shape(name), _SPECS[name][1]
    if dtype is str:
      return ''  # no instruction, maze or player names to show
    if len(shape) == 3:
      return self._image(name, shape)
    shape = tuple(d or self._players for d in shape)
    if name == 'MAP_FRAME_NUMBER':
      return np.array([float(self._frame)])
    if name == 'FRAMES_REMAINING_AT_60':
      return np.array([(self._episode_frames - self._frame) * 60.0 / self._fps])
    if name in ('DEBUG.PLAYER_ID', 'DEBUG.PLAYERS.ID'):  # the agent is player 1, bots follow
      return np.arange(1, shape[0] + 1, dtype=dtype)
    if name == 'DEBUG.PLAYERS.IS_BOT':
      return (np.arange(shape[0]) > 0).astype(dtype)
    return np.zeros(shape, dtype)  # at rest, at the origin; no team scores, no flags (state NONE)

  def _image(self, name, shape):
    """The frame (see the module's doc); the debug cameras show it without the HUD, PLAYER_VIEW with the
    debug camera's 3 x 3 reticle of grey 200 at the centre."""
    img = np.empty((self._height, self._width, 4), dtype=np.uint8)
    img[:, :, :3] = ((self._colour + self._frame) % 256).astype(np.uint8)
    img[:, :, 3] = 255
    debug = name.startswith('DEBUG.')
    if self._hud and not debug:
      img[-1, :, :3] = 255
    n = min(len(_ACTION_SPEC), self._width)
    img[0, :n, 0] = (self._last_action[:n].astype(np.int64) + 128).astype(np.uint8)
    if name.endswith('.PLAYER_VIEW'):
      top, left = self._height // 2 - 2, self._width // 2 - 2
      img[top:top + 3, left:left + 3, :3] = 200  # frames are at least 4 x 4
    if name.startswith('BGR'):
      img[:, :, :3] = img[:, :, 2::-1]
    planar = _SPECS[name][0][0] != 'h'  # (channels, h, w)
    img = img[:, :, :shape[0] if planar else shape[2]]
    return np.ascontiguousarray(img.transpose(2, 0, 1) if planar else img)

  def observations(self):
    self._alive('observations')
    if not self._running():
      raise RuntimeError('Environment in wrong status for call to observations()')
    return {name: self._render(name) for name in self._observations}

  def observation_spec(self):
    self._alive('observation_spec')
    return [{'name': name, 'shape': () if dtype is str else self._shape(name), 'dtype': dtype}
            for name, _, dtype in _OBSERVATIONS]

  def action_spec(self):
    self._alive('action_spec')
    return [{'min': lo, 'max': hi, 'name': name} for name, lo, hi in _ACTION_SPEC]

  def events(self):
    self._alive('events')
    if self._status not in ('running', 'terminated'):
      raise RuntimeError('Environment in wrong status for call to events()')
    return []

  def close(self):
    if self._status == 'closed':
      return False
    self._status = 'closed'
    return True


def _override(params, settings):
  """setting_overrides.lua's init(params): a setting replaces the parameter its key names (dotted into nested
  tables: 'mazeGenerationParams.height', 'camera.2'); any other must be on the white list (a deprecated one
  gets a warning), or the level fails, citing the line of the decorator's error() call."""
  for key, value in settings.items():
    table, sub = _find(params, key)
    if table is not None and _get(table, sub) is not None:
      _put(table, sub, value)
    elif key in _PARAMS_DEPRECATED:
      sys.stderr.write('Setting %s" (here set to "%s") has been deprecated.\n' % (key, value))
    elif key not in _PARAMS_WHITELIST:
      decorator = os.path.join(_runfiles_path, 'baselab', 'game_scripts', 'decorators', 'setting_overrides.lua')
      raise RuntimeError('Failed to init environment - "%s:140: Invalid setting: "%s" = "%s""' % (decorator, key, value))
  return params


def _find(params, key):
  """findLastSubTableAndSubKey: the table and key the dotted setting `key` names, numeric parts indexing Lua's
  lists from 1; (None, part) where a part would index a value that is no table (the real decorator fails there
  with Lua's indexing error; the fake refuses the setting)."""
  table, sub, value = params, key, params
  for part in (p for p in key.split('.') if p):  # gmatch('([^.]+)') skips empty parts
    if not isinstance(value, (dict, list)):
      return None, part
    table, sub = value, int(part) if part.isdigit() else part
    value = _get(table, sub)
    if value is None:
      break
  return table, sub


def _get(table, key):
  if isinstance(table, list):
    return table[key - 1] if isinstance(key, int) and 1 <= key <= len(table) else None
  return table.get(key) if isinstance(key, str) else None


def _put(table, key, value):
  table[key - 1 if isinstance(table, list) else key] = value


def _compile(key, pk3_path):
  """Makes the map's pk3; held at a gate while `CPC_LAB_FAKE_COMPILE_GATE` names one."""
  gate = os.environ.get('CPC_LAB_FAKE_COMPILE_GATE')
  if gate:
    _gate_log(gate, 'start %d %s\n' % (os.getpid(), key))
    while not os.path.exists(os.path.join(gate, 'release')):
      time.sleep(0.01)
    _gate_log(gate, 'end %d %s\n' % (os.getpid(), key))
  with open(pk3_path, 'wb') as f:
    f.write(b'PK3 fake map %s\n' % key.encode())


def _gate_log(gate, line):
  fd = os.open(os.path.join(gate, 'log'), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
  try:
    os.write(fd, line.encode())  # one small O_APPEND write: lines of concurrent processes never interleave
  finally:
    os.close(fd)
