"""A fake `deepmind_lab` module with DeepMind Lab's Python API, for tests and for trying the bridge
without a DeepMind Lab build (put this directory on PYTHONPATH).

It is as strict as the real module (google-deepmind/lab python/dmlab_module.c,
engine/code/deepmind/dmlab_connect.c, deepmind/engine/context.cc,
game_scripts/decorators/setting_overrides.lua), with its exception types and texts:

- the constructor's arguments; the renderer's library must be in the runfiles folder
  (`libdmlab_headless_sw.so` / `libdmlab_headless_hw.so`, stubs here), else "Failed to connect RL
  API" (what a folder holding only deepmind_lab.so gives);
- engine settings are parsed as the engine does (`width` and `height` positive multiples of 4, ints,
  booleans "true"/"false"); any other setting goes to the level, which rejects what it does not know
  ("Invalid setting", at construction);
- an unknown level fails with the engine's "Level not found: Failed to open file '...'";
- `reset(episode=-1, seed=None)`, `step(action, num_steps=1)` returning the summed reward,
  `num_steps()`, `observations()` only while running, `events()` only once an episode started;
- after `close()` only `is_running()` and `close()` are allowed: the real module releases its engine
  and segfaults on the rest, so the fake kills its process with SIGSEGV;
- the level cache protocol (`fetch(key, pk3_path)` / `write(key, pk3_path)`) around each map
  compile of a procedural level.

The real module offers 43 observations on the DMLab-30 levels (the engine's 9, the levels' custom
and DEBUG.* ones); the fake offers the engine's 9 and VEL.TRANS, VEL.ROT. What it renders and
rewards is made up, but deterministic under the seed:

- the frame is a flat colour drawn from the episode seed, shifted by the frame count; the red values
  of the first 7 pixels of row 0 hold the last action + 128 (so tests can see which 7-int action
  the bridge applied);
- each frame pays MOVE_BACK_FORWARD (+1 forward, -1 back), plus 10 on one seeded frame;
- unless the config has minimalUI 'true', a HUD is drawn: the bottom row is white;
- episodes last episodeLengthSeconds x fps frames (the level's length unless the config sets
  `episodeLengthSeconds`, as DeepMind Lab's setting overrides allow).

Map compiles take no time, unless `CPC_LAB_FAKE_COMPILE_GATE` names a folder: then each compile
appends `start <pid> <key>` to `<folder>/log`, waits until `<folder>/release` exists, and appends
`end <pid> <key>`, so tests can hold compiles and see how many ran at once.

Levels are the five of the CPC paper at their real paths, plus test levels under `tests/`:
`tests/fake_error_in_step` raises inside `step` at frame 8, `tests/fake_abort_in_step` kills the
process at frame 8 (a crash in the engine), and `tests/fake_seeded_length`'s episodes last
4 x (2 + seed % 5) frames (levels whose episodes end at different times, as real ones do).
"""

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

# path -> (episode length in seconds, whether each episode compiles a new map)
_LEVELS = {
    'contributed/dmlab30/rooms_watermaze': (120, False),
    'contributed/dmlab30/explore_goal_locations_small': (90, True),
    'seekavoid_arena_01': (20, False),
    'contributed/dmlab30/lasertag_three_opponents_small': (240, True),
    'contributed/dmlab30/rooms_keys_doors_puzzle': (60, True),
    'tests/fake_error_in_step': (60, False),
    'tests/fake_abort_in_step': (60, False),
    'tests/fake_seeded_length': (60, False),
}
_FAULT_FRAME = 8

# The engine's settings (dmlab_connect.c dmlab_setting) by how it parses them; the rest go to the level.
_INT_SETTINGS = ('width', 'height', 'maxAltCameraWidth', 'maxAltCameraHeight', 'serverPort', 'port', 'gpuDeviceIndex',
                 'mixerSeed')
_BOOL_SETTINGS = ('server', 'client', 'hasAltCameras', 'localLevelCache', 'globalLevelCache', 'logToStdErr',
                  'minimalUI', 'reducedUI', 'nativeApp', 'use_pbos')
_TEXT_SETTINGS = ('levelName', 'levelDirectory', 'vmMode', 'appendCommand', 'record', 'demo', 'video', 'demofiles',
                  'playerName')
# Level settings accepted everywhere (setting_overrides.lua PARAMS_WHITELIST), and the fake levels' own:
# the real ones are each level's apiParams; these two are what scalable_agent and cpc-lab pass.
_LEVEL_SETTINGS = ('episodeLengthSeconds', 'invocationMode', 'levelGenerator', 'playerId', 'players', 'randomSeed',
                   'datasetPath', 'enableCameraMovement', 'logLevel', 'allowHoldOutLevels')

_IMAGES = ('RGB_INTERLEAVED', 'RGBD_INTERLEAVED', 'RGB', 'RGBD', 'BGR_INTERLEAVED', 'BGRD_INTERLEAVED')
_OBSERVATIONS = _IMAGES[:6] + ('MAP_FRAME_NUMBER', 'RGB_INTERLACED', 'RGBD_INTERLACED', 'VEL.TRANS', 'VEL.ROT')

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
    for key, value in level_settings.items():
      if key not in _LEVEL_SETTINGS:
        # a Lua error: the decorator's path and the line of its error() call (114 stands for it)
        decorator = os.path.join(_runfiles_path, 'baselab', 'game_scripts', 'decorators', 'setting_overrides.lua')
        raise RuntimeError('Failed to init environment - "%s:114: Invalid setting: "%s" = "%s""' %
                           (decorator, key, value))
    for name in observations:
      if name not in _OBSERVATIONS:
        raise ValueError("Unknown observation '%s'." % name)
    default_seconds, self._compiles = _LEVELS[level]
    try:
      seconds = float(level_settings.get('episodeLengthSeconds', default_seconds))
    except ValueError as e:
      raise RuntimeError('Failed to init environment - "%s"' % e)
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
    h, w = self._height, self._width
    if name in ('MAP_FRAME_NUMBER',):
      return (1,)
    if name.startswith('VEL.'):
      return (3,)
    channels = 4 if name in ('RGBD_INTERLEAVED', 'RGBD', 'BGRD_INTERLEAVED', 'RGBD_INTERLACED') else 3
    return (channels, h, w) if name in ('RGB', 'RGBD') else (h, w, channels)

  def _render(self, name):
    if name == 'MAP_FRAME_NUMBER':
      return np.array([float(self._frame)])
    if name.startswith('VEL.'):
      return np.zeros(3)
    img = np.empty((self._height, self._width, 4), dtype=np.uint8)
    img[:, :, :3] = ((self._colour + self._frame) % 256).astype(np.uint8)
    img[:, :, 3] = 255
    if self._hud:
      img[-1, :, :3] = 255
    n = min(len(_ACTION_SPEC), self._width)
    img[0, :n, 0] = (self._last_action[:n].astype(np.int64) + 128).astype(np.uint8)
    if name.startswith('BGR'):
      img[:, :, :3] = img[:, :, 2::-1]
    img = img[:, :, :self._shape(name)[0 if name in ('RGB', 'RGBD') else 2]]
    return np.ascontiguousarray(img.transpose(2, 0, 1)) if name in ('RGB', 'RGBD') else np.ascontiguousarray(img)

  def observations(self):
    self._alive('observations')
    if not self._running():
      raise RuntimeError('Environment in wrong status for call to observations()')
    return {name: self._render(name) for name in self._observations}

  def observation_spec(self):
    self._alive('observation_spec')
    return [{'name': name, 'shape': self._shape(name), 'dtype': np.uint8 if 'RGB' in name else np.float64}
            for name in _OBSERVATIONS]

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
