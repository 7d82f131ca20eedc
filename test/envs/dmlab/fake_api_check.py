"""Checks that the fake deepmind_lab module behaves like the real one where tests rely on it, and
the bridge's directory level cache. Run by bridge.test.ts with the fake and envs/dmlab on sys.path."""

import os
import shutil
import tempfile
import unittest

import numpy as np

import deepmind_lab
import server

LEVEL = 'contributed/dmlab30/rooms_watermaze'


def lab(level=LEVEL, **config):
  config.setdefault('width', '8')
  config.setdefault('height', '6')
  return deepmind_lab.Lab(level, ['RGB_INTERLEAVED'], config=config)


class FakeApi(unittest.TestCase):

  def test_unknown_level_raises_at_construction(self):
    with self.assertRaisesRegex(RuntimeError, 'Failed to init environment - "Level not found: rooms_watermaze"'):
      deepmind_lab.Lab('rooms_watermaze', ['RGB_INTERLEAVED'], config={})

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
    self.assertEqual((obs.shape, obs.dtype), ((6, 8, 3), np.uint8))
    forward = np.array([0, 0, 0, 1, 0, 0, 0], dtype=np.intc)
    reward = env.step(forward, num_steps=4)
    self.assertEqual(env.num_steps(), 4)
    reward += env.step(forward, num_steps=4)  # stops after frame 6
    self.assertFalse(env.is_running())
    self.assertIn(reward, (6.0, 16.0))  # +1 per frame, +10 if the seeded goal frame was hit
    with self.assertRaises(RuntimeError):
      env.step(forward)
    with self.assertRaises(ValueError):
      env.reset(seed='7')
    self.assertTrue(env.close())
    self.assertFalse(env.close())

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
    self.assertEqual([s['name'] for s in env.action_spec()][3], 'MOVE_BACK_FORWARD')
    self.assertEqual(len(env.action_spec()), 7)
    spec = {s['name']: s for s in env.observation_spec()}
    self.assertEqual(spec['RGB_INTERLEAVED']['shape'], (6, 8, 3))


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
    self.assertEqual(os.listdir(os.path.join(self.dir, 'cache')), ['k1'])  # no temporary left behind
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
    self.assertEqual(len(os.listdir(cache_dir)), 1)


if __name__ == '__main__':
  unittest.main()
