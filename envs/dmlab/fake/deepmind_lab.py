"""A fake `deepmind_lab` module with DeepMind Lab's Python API, for tests and for trying the bridge
without a DeepMind Lab build (put this directory on PYTHONPATH).

It follows python/dmlab_module.c of google-deepmind/lab: the constructor's arguments and errors,
`reset(episode=-1, seed=None)`, `step(action, num_steps=1)` returning the summed reward,
`num_steps()` counting frames since reset, `observations()` only while running, `close()`, the
level cache protocol (`fetch(key, pk3_path)` / `write(key, pk3_path)`), and the same exception types
and messages where the real module raises. What it renders and rewards is made up, but
deterministic under the seed:

- the frame is a flat colour drawn from the episode seed, shifted by the frame count; the red values
  of the first 7 pixels of row 0 hold the last action + 128 (so tests can see which 7-int action
  the bridge applied);
- each frame pays MOVE_BACK_FORWARD (+1 forward, -1 back), plus 10 on one seeded frame;
- unless the config has minimalUI 'true', a HUD is drawn: the bottom row is white;
- episodes last episodeLengthSeconds x fps frames (the level's length unless the config sets
  `episodeLengthSeconds`, as DeepMind Lab's setting overrides allow).

Levels are the five of the CPC paper at their real paths, plus test levels under `tests/`:
`tests/fake_error_in_step` raises inside `step` at frame 8, `tests/fake_abort_in_step` kills the
process at frame 8 (a crash in the engine).
"""

import os
import tempfile

import numpy as np

FAKE = True  # lets `cpc-lab doctor` tell the fake from a real build

_ACTION_SPEC = (
    ('LOOK_LEFT_RIGHT_PIXELS_PER_FRAME', -1024, 1024),
    ('LOOK_DOWN_UP_PIXELS_PER_FRAME', -1024, 1024),
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
}
_FAULT_FRAME = 8

_runfiles_path = os.path.dirname(os.path.abspath(__file__))


def version():
  return '1.0'


def runfiles_path():
  return _runfiles_path


def set_runfiles_path(path):
  global _runfiles_path
  _runfiles_path = path
  return True


class Lab(object):
  """deepmind_lab.Lab(level, observations, config={}, renderer='software', level_cache=None,
  temp_folder=None)."""

  def __init__(self, level, observations, config=None, renderer='software', level_cache=None,
               temp_folder=None):
    if not isinstance(level, str):
      raise TypeError('argument 1 must be str, not %s' % type(level).__name__)
    if not isinstance(observations, list):
      raise TypeError('argument 2 must be list, not %s' % type(observations).__name__)
    if config is not None and not isinstance(config, dict):
      raise TypeError('argument 3 must be dict, not %s' % type(config).__name__)
    if renderer and renderer not in ('software', 'hardware'):
      raise RuntimeError('Failed to set renderer must be "hardware" or "software" actual "%s"!' % renderer)
    settings = {'fps': '60'}
    for key, value in (config or {}).items():
      if not isinstance(key, str) or not isinstance(value, str):
        raise TypeError('bad argument type for built-in operation')
      settings[key] = value
    try:
      self._width = int(settings.get('width', '320'))
      self._height = int(settings.get('height', '240'))
      fps = int(settings['fps'])
      seconds = float(settings['episodeLengthSeconds']) if 'episodeLengthSeconds' in settings else None
    except ValueError as e:
      raise RuntimeError('Failed to apply setting - "%s"' % e)
    if level not in _LEVELS:
      raise RuntimeError('Failed to init environment - "Level not found: %s"' % level)
    default_seconds, self._compiles = _LEVELS[level]
    self._level = level
    self._episode_frames = max(1, int(round((seconds if seconds is not None else default_seconds) * fps)))
    self._specs = {
        'RGB_INTERLEAVED': ((self._height, self._width, 3), np.uint8),
        'RGBD_INTERLEAVED': ((self._height, self._width, 4), np.uint8),
        'RGB': ((3, self._height, self._width), np.uint8),
    }
    for name in observations:
      if name not in self._specs:
        raise ValueError("Unknown observation '%s'." % name)
    self._hud = settings.get('minimalUI') != 'true'
    self._observations = list(observations)
    self._level_cache = level_cache
    self._temp_folder = temp_folder or tempfile.gettempdir()
    self.config = settings  # not in the real API: lets tests check what the bridge passed
    self._status = 'uninitialized'
    self._episode = 0
    self._num_steps = 0
    self._frame = 0
    self._last_action = np.zeros(7, dtype=np.intc)

  def _running(self):
    return self._status == 'running'

  def reset(self, episode=-1, seed=None):
    if self._status == 'closed':
      raise RuntimeError('Failed to start environment - "closed"')
    if episode >= 0:
      self._episode = episode
    if seed is None:
      seed = int(np.random.randint(0, 2 ** 31 - 1))
    elif not isinstance(seed, int) or isinstance(seed, bool):
      raise ValueError("'seed' must be int or None, was '%s'." % type(seed).__name__)
    if self._compiles and self._level_cache is not None:
      self._build_map(seed)
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
    pk3_path = os.path.join(self._temp_folder, 'fake_dmlab_%d_%s' % (os.getpid(), key))
    try:
      if not self._level_cache.fetch(key, pk3_path):
        with open(pk3_path, 'wb') as f:
          f.write(b'PK3 fake map %s\n' % key.encode())
        self._level_cache.write(key, pk3_path)
    finally:
      if os.path.exists(pk3_path):
        os.remove(pk3_path)

  def num_steps(self):
    return self._num_steps

  def is_running(self):
    return self._running()

  def step(self, action, num_steps=1):
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

  def _render(self, name):
    shape, dtype = self._specs[name]
    img = np.empty((self._height, self._width, shape[2] if name != 'RGB' else 3), dtype=dtype)
    img[:, :, :3] = ((self._colour + self._frame) % 256).astype(dtype)
    if img.shape[2] == 4:
      img[:, :, 3] = 255
    if self._hud:
      img[-1, :, :3] = 255
    n = min(len(_ACTION_SPEC), self._width)
    img[0, :n, 0] = (self._last_action[:n].astype(np.int64) + 128).astype(dtype)
    return np.ascontiguousarray(img.transpose(2, 0, 1)) if name == 'RGB' else img

  def observations(self):
    if not self._running():
      raise RuntimeError('Environment in wrong status for call to observations()')
    return {name: self._render(name) for name in self._observations}

  def observation_spec(self):
    return [{'name': name, 'shape': shape, 'dtype': dtype} for name, (shape, dtype) in self._specs.items()]

  def action_spec(self):
    return [{'min': lo, 'max': hi, 'name': name} for name, lo, hi in _ACTION_SPEC]

  def events(self):
    return []

  def close(self):
    if self._status == 'closed':
      return False
    self._status = 'closed'
    return True
