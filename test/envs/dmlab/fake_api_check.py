"""Checks that the fake deepmind_lab module behaves like the real one where tests rely on it, and
the bridge's directory level cache. Run by bridge.test.ts with the fake and envs/dmlab on sys.path.

The expected texts are the real module's (google-deepmind/lab python/dmlab_module.c,
engine/code/deepmind/dmlab_connect.c, deepmind/engine/context.cc, decorators/setting_overrides.lua).
With a real build's folder on sys.path instead of the fake, the same checks run against it; what only
the fake does (its made-up rewards and map keys, crashing on every call after close) is checked only
on the fake."""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

import numpy as np

import deepmind_lab
import server

LEVEL = 'contributed/dmlab30/rooms_watermaze'
FAKE = getattr(deepmind_lab, 'FAKE', False)


def lab(level=LEVEL, **config):
  config.setdefault('width', '8')
  config.setdefault('height', '4')
  return deepmind_lab.Lab(level, ['RGB_INTERLEAVED'], config=config)


class FakeApi(unittest.TestCase):

  def test_unknown_level_raises_at_construction(self):
    with self.assertRaisesRegex(RuntimeError, r'^Failed to init environment - "Level not found: Failed to open file '
                                r"'/.*/game_scripts/levels/rooms_watermaze\.lua'\"$"):
      deepmind_lab.Lab('rooms_watermaze', ['RGB_INTERLEAVED'], config={})

  def test_width_and_height_are_positive_multiples_of_4(self):
    for key, value in (('height', '6'), ('width', '0'), ('width', '-4'), ('height', '98')):
      with self.assertRaises(RuntimeError) as cm:
        lab(**{key: value})
      self.assertEqual(str(cm.exception), 'Failed to apply setting \'%s = %s\' - "\'%s\' must be a positive multiple of 4. '
                       'Actual %s"' % (key, value, key, value))
    with self.assertRaisesRegex(RuntimeError, "Failed to apply setting 'width = 9.5' - \"Invalid int setting 9.5"):
      lab(width='9.5')
    self.assertEqual(lab(width='4', height='12').observation_spec()[0]['shape'], (12, 4, 3))

  def test_unknown_setting_rejected_at_construction(self):
    with self.assertRaises(RuntimeError) as cm:
      lab(widht='96')
    self.assertRegex(str(cm.exception), r'^Failed to init environment - ".*Invalid setting: "widht" = "96""$')
    # engine settings, the decorator's white list and the level's own settings are accepted
    lab(minimalUI='true', fps='60', mixerSeed='3', logToStdErr='false', episodeLengthSeconds='5', datasetPath='/d',
        logLevel='WARN', allowHoldOutLevels='true')
    with self.assertRaisesRegex(RuntimeError, 'Invalid boolean arg'):
      lab(minimalUI='yes')

  def test_missing_runfiles_fail_to_connect(self):
    # a folder holding only the module (a lone deepmind_lab.so): the renderer library is not beside it
    folder = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, folder)
    shutil.copy(deepmind_lab.__file__, folder)
    code = 'import deepmind_lab\ntry:\n  deepmind_lab.Lab(%r, ["RGB_INTERLEAVED"], config={}, renderer="hardware")\n' \
           'except RuntimeError as e:\n  print(e)\n' % LEVEL
    r = subprocess.run([sys.executable, '-c', code], env=dict(os.environ, PYTHONPATH=folder),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    self.assertEqual(r.stdout.strip(), 'Failed to connect RL API')
    self.assertIn('Failed to open library! - %s' % os.path.join(folder, 'libdmlab_headless_hw.so'), r.stderr)

  def test_config_values_must_be_strings(self):
    with self.assertRaises(TypeError):
      deepmind_lab.Lab(LEVEL, ['RGB_INTERLEAVED'], config={'width': 96})
    with self.assertRaises(TypeError):
      deepmind_lab.Lab(LEVEL, ['RGB_INTERLEAVED'], config=[('width', '96')])

  def test_unknown_observation_and_renderer(self):
    with self.assertRaisesRegex(ValueError, "Unknown observation 'DEPTH'"):
      deepmind_lab.Lab(LEVEL, ['DEPTH'], config={})
    with self.assertRaises(RuntimeError):
      deepmind_lab.Lab(LEVEL, ['RGB_INTERLEAVED'], config={}, renderer='opengl')

  def test_actions_must_be_intc_of_length_7(self):
    env = lab()
    env.reset(seed=1)
    with self.assertRaisesRegex(ValueError, 'dtype np.intc'):
      env.step(np.zeros(7, dtype=np.int64))
    with self.assertRaisesRegex(ValueError, r'shape \(7\)'):
      env.step(np.zeros(6, dtype=np.intc))
    with self.assertRaises(TypeError):
      env.step([0] * 7)

  def test_status_rules(self):
    env = lab(episodeLengthSeconds='0.1')  # 6 frames
    with self.assertRaisesRegex(RuntimeError, 'wrong status to advance'):
      env.step(np.zeros(7, dtype=np.intc))
    with self.assertRaisesRegex(RuntimeError, 'wrong status for call to observations'):
      env.observations()
    self.assertTrue(env.reset(seed=3))
    self.assertTrue(env.is_running())
    obs = env.observations()['RGB_INTERLEAVED']
    self.assertEqual((obs.shape, obs.dtype), ((4, 8, 3), np.uint8))
    forward = np.array([0, 0, 0, 1, 0, 0, 0], dtype=np.intc)
    reward = env.step(forward, num_steps=4)
    self.assertEqual(env.num_steps(), 4)
    reward += env.step(forward, num_steps=4)  # stops after frame 6
    self.assertFalse(env.is_running())
    if FAKE:
      self.assertIn(reward, (6.0, 16.0))  # +1 per frame, +10 if the seeded goal frame was hit
    with self.assertRaises(RuntimeError):
      env.step(forward)
    with self.assertRaises(ValueError):
      env.reset(seed='7')
    self.assertIsInstance(env.events(), list)  # allowed once an episode ran, even after it ended
    self.assertTrue(env.close())
    self.assertFalse(env.close())
    self.assertFalse(env.is_running())

  def test_events_before_reset_raise(self):
    env = lab()
    with self.assertRaisesRegex(RuntimeError, r'Environment in wrong status for call to events\(\)'):
      env.events()
    env.reset(seed=1)
    self.assertIsInstance(env.events(), list)

  def test_anything_but_is_running_and_close_after_close_crashes_the_process(self):
    # the real module releases its engine on close(): reset() and the specs then segfault; its
    # documentation allows nothing but is_running() after close(), and the fake crashes on the rest too
    calls = ['reset(seed=1)', 'observation_spec()', 'action_spec()', 'fps()']
    if FAKE:
      calls += ['observations()', 'step(np.zeros(7, np.intc))', 'events()', 'num_steps()']
    for call in calls:
      code = textwrap.dedent('''
          import numpy as np, deepmind_lab
          env = deepmind_lab.Lab(%r, ['RGB_INTERLEAVED'], config={'width': '8', 'height': '4'})
          env.reset(seed=1)
          env.close()
          assert not env.is_running() and env.close() is False
          env.%s
          ''') % (LEVEL, call)
      r = subprocess.run([sys.executable, '-c', code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
      self.assertEqual(r.returncode, -11, '%s after close: %r' % (call, r.stderr))

  def test_deterministic_under_seed(self):
    a, b = lab(), lab()
    a.reset(seed=11)
    b.reset(seed=11)
    act = np.array([20, 0, 0, 1, 0, 0, 0], dtype=np.intc)
    for _ in range(5):
      self.assertEqual(a.step(act, 2), b.step(act, 2))
      np.testing.assert_array_equal(a.observations()['RGB_INTERLEAVED'], b.observations()['RGB_INTERLEAVED'])

  def test_specs(self):
    env = lab()
    actions = env.action_spec()
    self.assertEqual([s['name'] for s in actions][3], 'MOVE_BACK_FORWARD')
    self.assertEqual(len(actions), 7)
    self.assertEqual([(a['min'], a['max']) for a in actions[:2]], [(-512, 512)] * 2)
    spec = {s['name']: s for s in env.observation_spec()}
    self.assertEqual(spec['RGB_INTERLEAVED']['shape'], (4, 8, 3))
    self.assertEqual(spec['RGBD']['shape'], (4, 4, 8))
    self.assertEqual(spec['MAP_FRAME_NUMBER']['shape'], (1,))
    self.assertEqual(spec['VEL.TRANS']['shape'], (3,))


# The five levels of the CPC paper, and the observations each offers, in observation_spec() order: the
# engine's (dmlab_connect.c kObservationNames), then the custom ones custom_observations.lua adds when the
# level initialises, then debug_observations.lua's (google-deepmind/lab game_scripts/decorators).
LEVELS = ('seekavoid_arena_01', 'contributed/dmlab30/rooms_watermaze', 'contributed/dmlab30/explore_goal_locations_small',
          'contributed/dmlab30/lasertag_three_opponents_small', 'contributed/dmlab30/rooms_keys_doors_puzzle')
OBSERVATIONS = (
    'RGB_INTERLEAVED', 'RGBD_INTERLEAVED', 'RGB', 'RGBD', 'BGR_INTERLEAVED', 'BGRD_INTERLEAVED', 'MAP_FRAME_NUMBER',
    'RGB_INTERLACED', 'RGBD_INTERLACED',
    'VEL.TRANS', 'VEL.ROT', 'INSTR', 'TEAM.SCORE', 'FRAMES_REMAINING_AT_60',
    'DEBUG.CAMERA_INTERLEAVED.TOP_DOWN', 'DEBUG.CAMERA_INTERLEAVED.PLAYER_VIEW',
    'DEBUG.CAMERA_INTERLEAVED.PLAYER_VIEW_NO_RETICLE', 'DEBUG.CAMERA.TOP_DOWN', 'DEBUG.CAMERA.PLAYER_VIEW',
    'DEBUG.CAMERA.PLAYER_VIEW_NO_RETICLE', 'DEBUG.MAZE.LAYOUT', 'DEBUG.MAZE.VARIATION', 'DEBUG.POS.TRANS', 'DEBUG.POS.ROT',
    'DEBUG.PLAYER_ID', 'DEBUG.PLAYERS.ARMOR', 'DEBUG.PLAYERS.GADGET', 'DEBUG.PLAYERS.GADGET_AMOUNT', 'DEBUG.PLAYERS.HEALTH',
    'DEBUG.PLAYERS.HOLDING_FLAG', 'DEBUG.PLAYERS.ID', 'DEBUG.PLAYERS.EYE.POS', 'DEBUG.PLAYERS.EYE.ROT',
    'DEBUG.PLAYERS.VELOCITY', 'DEBUG.PLAYERS.NAME', 'DEBUG.PLAYERS.TEAM', 'DEBUG.PLAYERS.CAPTURES', 'DEBUG.PLAYERS.SCORE',
    'DEBUG.PLAYERS.IS_BOT', 'DEBUG.FLAGS.RED', 'DEBUG.FLAGS.BLUE', 'DEBUG.FLAGS.RED_HOME', 'DEBUG.FLAGS.BLUE_HOME',
)


def _invalid_setting(key, value):
  return r'^Failed to init environment - ".*/decorators/setting_overrides\.lua:140: Invalid setting: "%s" = "%s""$' % (
      key.replace('.', r'\.'), value)


class Dmlab30Levels(unittest.TestCase):

  def test_every_level_offers_the_43_observations_with_their_specs(self):
    for level in LEVELS:
      spec = lab(level).observation_spec()
      self.assertEqual(tuple(s['name'] for s in spec), OBSERVATIONS, level)
      spec = {s['name']: (s['shape'], s['dtype']) for s in spec}
      self.assertEqual(spec['RGB_INTERLACED'], ((4, 8, 3), np.uint8))  # deprecated, as RGB_INTERLEAVED
      self.assertEqual(spec['RGBD_INTERLACED'], ((4, 8, 4), np.uint8))
      self.assertEqual(spec['MAP_FRAME_NUMBER'], ((1,), np.float64))
      self.assertEqual(spec['INSTR'], ((), str))  # strings: no shape
      self.assertEqual(spec['DEBUG.MAZE.LAYOUT'], ((), str))
      self.assertEqual(spec['TEAM.SCORE'], ((2,), np.float64))
      self.assertEqual(spec['DEBUG.CAMERA.TOP_DOWN'], ((3, 4, 8), np.uint8))
      self.assertEqual(spec['DEBUG.CAMERA_INTERLEAVED.PLAYER_VIEW'], ((4, 8, 3), np.uint8))
      self.assertEqual(spec['DEBUG.PLAYER_ID'], ((1,), np.uint8))
      self.assertEqual(spec['DEBUG.PLAYERS.IS_BOT'], ((0,), np.uint8))  # 0: one entry per player
      self.assertEqual(spec['DEBUG.PLAYERS.EYE.POS'], ((0, 3), np.float64))
      self.assertEqual(spec['DEBUG.FLAGS.RED'], ((5,), np.float64))
      self.assertEqual(spec['DEBUG.FLAGS.BLUE_HOME'], ((4,), np.float64))

  def test_observations_have_their_spec_shapes_and_are_deterministic_under_the_seed(self):
    for level in LEVELS:
      a, b = (deepmind_lab.Lab(level, list(OBSERVATIONS), config={'width': '8', 'height': '4'}) for _ in range(2))
      spec = {s['name']: s for s in a.observation_spec()}
      for env in (a, b):
        env.reset(seed=4)
        env.step(np.array([0, 0, 0, 1, 0, 0, 0], dtype=np.intc), num_steps=3)
      obs, again = a.observations(), b.observations()
      self.assertEqual(set(obs), set(OBSERVATIONS))
      for name, value in obs.items():
        want = spec[name]
        if want['dtype'] is str:
          self.assertIsInstance(value, str, name)
          self.assertEqual(value, again[name])
          continue
        self.assertEqual(value.dtype, want['dtype'], name)
        self.assertEqual(len(value.shape), len(want['shape']), name)
        for got, dim in zip(value.shape, want['shape']):
          if dim:  # 0: a length that varies (players)
            self.assertEqual(got, dim, name)
        np.testing.assert_array_equal(value, again[name], name)

  def test_unknown_observation_refused_with_the_real_text(self):
    for name in ('DEBUG.NOPE', 'VEL', 'rgb_interleaved'):
      with self.assertRaises(ValueError) as cm:
        deepmind_lab.Lab(LEVELS[0], ['RGB_INTERLEAVED', name], config={})
      self.assertEqual(str(cm.exception), "Unknown observation '%s'." % name)

  def test_a_setting_one_level_reads_is_refused_by_another(self):
    # setting_overrides.lua: a level accepts the white list and the keys of its own parameters (dotted
    # into nested tables), and refuses the rest when it initialises
    lab(LEVELS[3], botCount='2', skill='2', **{'mazeGenerationParams.height': '13', 'pickupParams.weaponCount': '2'})
    lab(LEVELS[1], spawnRadius='300')
    lab(LEVELS[2], mazeHeight='13', hasDoors='true', objectCount='2')
    lab(LEVELS[0], **{'camera.2': '-50'})  # seekavoid_arena_01 sets its own camera {250, -100, 900}
    for level, key in ((LEVELS[1], 'botCount'), (LEVELS[0], 'spawnRadius'), (LEVELS[3], 'mazeHeight'),
                       (LEVELS[2], 'mazeGenerationParams.height'), (LEVELS[0], 'camera.4'), (LEVELS[3], 'mapName')):
      with self.assertRaisesRegex(RuntimeError, _invalid_setting(key, '3')):
        lab(level, **{key: '3'})

  def test_rooms_keys_doors_puzzle_passes_unknown_settings_to_its_generator_which_refuses_them_at_reset(self):
    # keys_doors_puzzle_factory.lua has no setting_overrides: init() gives every setting off its own white list
    # (no enableCameraMovement there) to the map generator, whose configs.lua refuses keys it has no default for
    env = lab(LEVELS[4], numTrapRooms='0', roomGridHeight='2')
    env.reset(seed=1)
    for key in ('botCount', 'enableCameraMovement'):
      env = lab(LEVELS[4], **{key: 'true'})
      with self.assertRaises(RuntimeError) as cm:
        env.reset(seed=1)
      self.assertRegex(str(cm.exception), r'^Failed to start environment - ".*/map_generators/keys_doors/configs\.lua:114: '
                       r'Unrecognized config key: %s"$' % key)
    lab(LEVELS[0], enableCameraMovement='false')  # the other four take it

  def test_rooms_keys_doors_puzzle_ignores_episode_length_seconds(self):
    # on its white list, so never read: the level times out at its own 60 s
    env = lab(LEVELS[4], episodeLengthSeconds='0.1')
    env.reset(seed=2)
    env.step(np.zeros(7, dtype=np.intc), num_steps=12)
    self.assertTrue(env.is_running())
    env = lab(LEVELS[1], episodeLengthSeconds='0.1')
    env.reset(seed=2)
    env.step(np.zeros(7, dtype=np.intc), num_steps=12)
    self.assertFalse(env.is_running())


class LevelCache(unittest.TestCase):

  def setUp(self):
    self.dir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, self.dir)

  def test_fetch_miss_write_then_hit(self):
    cache = server.DirectoryLevelCache(os.path.join(self.dir, 'cache'))
    src = os.path.join(self.dir, 'map.pk3')
    with open(src, 'wb') as f:
      f.write(b'compiled')
    dst = os.path.join(self.dir, 'out.pk3')
    self.assertFalse(cache.fetch('k1', dst))
    cache.write('k1', src)
    self.assertTrue(cache.fetch('k1', dst))
    with open(dst, 'rb') as f:
      self.assertEqual(f.read(), b'compiled')
    self.assertEqual(sorted(os.listdir(os.path.join(self.dir, 'cache'))), ['.compile-lock', 'k1'])  # no temporary left
    with self.assertRaises(ValueError):
      cache.fetch('../escape', dst)

  def test_procedural_level_compiles_once_per_seed(self):
    cache_dir = os.path.join(self.dir, 'cache')
    calls = []

    class Spy(server.DirectoryLevelCache):
      def fetch(self, key, pk3_path):
        hit = server.DirectoryLevelCache.fetch(self, key, pk3_path)
        calls.append(('fetch', hit))
        return hit

      def write(self, key, pk3_path):
        calls.append(('write', None))
        server.DirectoryLevelCache.write(self, key, pk3_path)

    for _ in range(2):
      env = deepmind_lab.Lab('contributed/dmlab30/explore_goal_locations_small', ['RGB_INTERLEAVED'],
                             config={}, level_cache=Spy(cache_dir))
      env.reset(seed=5)
    self.assertEqual(calls, [('fetch', False), ('write', None), ('fetch', True)])
    self.assertEqual(len([f for f in os.listdir(cache_dir) if not f.startswith('.')]), 1)

  def lock_taken(self, cache_dir):
    """Whether another process finds the cache's compile lock taken."""
    code = ('import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_RDWR)\ntry:\n  fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n'
            'except BlockingIOError:\n  sys.exit(3)\n')
    r = subprocess.run([sys.executable, '-c', code, os.path.join(cache_dir, server.DirectoryLevelCache.LOCK_NAME)])
    return r.returncode == 3

  def test_a_miss_holds_the_compile_lock_until_write_or_release(self):
    cache_dir = os.path.join(self.dir, 'cache')
    heard = []
    cache = server.DirectoryLevelCache(cache_dir, lambda state, key: heard.append((state, key)))
    src = os.path.join(self.dir, 'map.pk3')
    with open(src, 'wb') as f:
      f.write(b'compiled')
    self.assertFalse(cache.fetch('k1', os.path.join(self.dir, 'out.pk3')))
    self.assertTrue(self.lock_taken(cache_dir))
    cache.write('k1', src)
    self.assertFalse(self.lock_taken(cache_dir))
    self.assertFalse(cache.fetch('k2', os.path.join(self.dir, 'out.pk3')))  # a compile that fails: no write
    cache.release()
    cache.release()  # idempotent
    self.assertFalse(self.lock_taken(cache_dir))
    self.assertEqual(heard, [('compiling', 'k1'), ('done', None), ('compiling', 'k2'), ('done', None)])

  def test_the_bridge_frees_the_lock_after_a_compile_that_raised(self):
    cache_dir = os.path.join(self.dir, 'cache')
    cache = server.DirectoryLevelCache(cache_dir)

    class FailingLab(object):
      def reset(self, seed):
        cache.fetch('k-%d' % seed, os.path.join(self.dir, 'out.pk3'))
        raise RuntimeError('Failed to start environment - "map compile failed"')

    lab = deepmind_lab.Lab(LEVEL, ['RGB_INTERLEAVED'], config={'width': '8', 'height': '4'})
    env = server.DmLabEnv(lab, 'x', 0, cache)
    env._lab = FailingLab()
    env._lab.dir = self.dir
    with self.assertRaisesRegex(RuntimeError, 'map compile failed'):
      env.reset(1)
    self.assertFalse(self.lock_taken(cache_dir))


if __name__ == '__main__':
  unittest.main()
