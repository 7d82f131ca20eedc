#!/usr/bin/env python3
"""cpc-lab's DeepMind Lab bridge: serves one `deepmind_lab.Lab` over the env protocol.

The protocol is cpc-lab's (`src/transport/messages.ts`): msgpack maps with `v` (protocol
version) and `type`, request/reply on a ZeroMQ REP socket:

    env.spec            -> env.spec.reply  {spec: {observationShape, numActions, level, episodeLength?}}
    env.reset {seed}    -> env.reset.reply {obs}
    env.step {action, repeat}
                        -> env.step.reply  {obs, reward, done, episodeReturn?, episodeLength?}
    env.close           -> env.close.reply, then the process exits
    anything malformed  -> error {code, message, requestType?}; the server keeps serving

Arrays travel as {dtype, shape, data} with `data` raw little-endian bytes. Action indices map to
the IMPALA action set (7-int DeepMind Lab actions) and are applied with
`Lab.step(action, num_steps=repeat)`. On episode end the bridge resets DeepMind Lab with a fresh
seed from its own generator (seeded by `env.reset`), as deepmind/scalable_agent does, and the
`done` reply carries the first observation of the next episode.

Start-up handshake on stdout (other output, e.g. DeepMind Lab's own prints, may surround it):

    CPC_LAB_READY {"endpoint": ..., "pid": ..., "spec": ..., "deepmindLab": <module file>}
    CPC_LAB_ERROR {"code": ..., "message": ..., "hint": ...}     (then exit status 2)

and while serving, around each map compile through the level cache (the client's request deadline
does not count the time between 'waiting' or 'compiling' and 'done'):

    CPC_LAB_COMPILE {"state": "waiting" | "compiling" | "done", "key": ...}

Needs Python 3 with pyzmq, msgpack and numpy, and DeepMind Lab's `deepmind_lab` module on
PYTHONPATH (or the fake in envs/dmlab/fake for tests).
"""

from __future__ import print_function

import argparse
import fcntl
import json
import os
import shutil
import signal
import struct
import sys
import tempfile
import threading
import time

READY_PREFIX = 'CPC_LAB_READY '
ERROR_PREFIX = 'CPC_LAB_ERROR '
COMPILE_PREFIX = 'CPC_LAB_COMPILE '
WARMED_PREFIX = 'CPC_LAB_WARMED '

PROTOCOL_VERSION = 2  # must equal src/transport/messages.ts

# Every message type of the protocol (must equal MESSAGE_TYPES in src/transport/messages.ts; a test
# checks it). Known types this bridge does not serve get `unexpected_message`, others `unknown_type`.
MESSAGE_TYPES = (
    'env.spec', 'env.reset', 'env.step', 'env.close',
    'env.spec.reply', 'env.reset.reply', 'env.step.reply', 'env.close.reply',
    'error', 'hello', 'heartbeat', 'unroll', 'params',
)

# The IMPALA action set (deepmind/scalable_agent environments.py DEFAULT_ACTION_SET); must equal
# ACTION_SET in envs/actions.ts (a test checks it). Components: look left/right, look down/up,
# strafe left/right, move back/forward, fire, jump, crouch.
ACTION_SET = (
    (0, 0, 0, 1, 0, 0, 0),    # forward
    (0, 0, 0, -1, 0, 0, 0),   # backward
    (0, 0, -1, 0, 0, 0, 0),   # strafe left
    (0, 0, 1, 0, 0, 0, 0),    # strafe right
    (-20, 0, 0, 0, 0, 0, 0),  # look left
    (20, 0, 0, 0, 0, 0, 0),   # look right
    (-20, 0, 0, 1, 0, 0, 0),  # forward + look left
    (20, 0, 0, 1, 0, 0, 0),   # forward + look right
    (0, 0, 0, 0, 1, 0, 0),    # fire
)

DEFAULT_MAX_BYTES = 64 * 1024  # env requests are tiny
MAX_REPEAT = 1000
LOG_FIRST, LOG_EVERY = 20, 1000  # error lines per code: all of the first 20, then one in 1000


def emit(prefix, payload):
  # A leading newline keeps the marker at the start of a line even if DeepMind Lab left one open.
  sys.stdout.write('\n' + prefix + json.dumps(payload) + '\n')
  sys.stdout.flush()


def fail_startup(code, message, hint=None):
  payload = {'code': code, 'message': message}
  if hint:
    payload['hint'] = hint
  emit(ERROR_PREFIX, payload)
  sys.exit(2)


try:
  import msgpack
  import numpy as np
  import zmq
except ImportError as e:  # pragma: no cover - exercised by `cpc-lab doctor`, not by tests
  fail_startup(
      'missing_dependency', '%s (python: %s)' % (e, sys.executable),
      'install them for this interpreter: `apt install python3-zmq python3-msgpack python3-numpy` '
      'or `%s -m pip install pyzmq msgpack numpy`; or pick another interpreter with --python / '
      'CPC_LAB_PYTHON' % sys.executable)


class DirectoryLevelCache(object):
  """DeepMind Lab's level cache (`fetch`/`write`) backed by a directory, so a generated map is
  compiled once and reused by every bridge process. Writes are atomic (copy to a temporary file,
  then rename), so concurrent bridges never read a half-written map.

  One compile at a time per directory: a miss takes the directory's compile lock (an flock, which
  the kernel drops if the process dies) before DeepMind Lab compiles, and `write` (or `release`,
  if the compile failed) gives it back. A bridge that finds the lock taken logs a note and waits
  for it: 8 bridges whose episodes end together no longer share the cores among 8 compiles (all done
  late, together); one after another, the first in line is done after one. `notify(state, key)`
  hears 'waiting', 'compiling' and 'done' (the bridge tells the actor, whose request deadline does
  not count that time)."""

  LOCK_NAME = '.compile-lock'

  def __init__(self, cache_dir, notify=None):
    self._dir = cache_dir
    self._notify = notify or (lambda state, key: None)
    self._lock_fd = None
    self.compiled = 0  # maps this process compiled (missed, not compiled by the bridge it waited for)
    os.makedirs(cache_dir, exist_ok=True)  # bridges start concurrently

  def _path(self, key):
    if os.sep in key or key in ('', '.', '..', self.LOCK_NAME):
      raise ValueError('bad level cache key %r' % key)
    return os.path.join(self._dir, key)

  def _copy(self, key, pk3_path):
    path = self._path(key)
    if not os.path.isfile(path):
      return False
    shutil.copyfile(path, pk3_path)
    return True

  def fetch(self, key, pk3_path):
    if self._copy(key, pk3_path):
      return True
    self._lock(key)
    if self._copy(key, pk3_path):  # compiled by the bridge we waited for
      self.release()
      return True
    self.compiled += 1
    self._notify('compiling', key)
    return False  # DeepMind Lab compiles the map now, then calls write

  def write(self, key, pk3_path):
    try:
      path = self._path(key)
      if os.path.isfile(path):
        return
      fd, tmp = tempfile.mkstemp(dir=self._dir, prefix='.tmp-')
      os.close(fd)
      try:
        shutil.copyfile(pk3_path, tmp)
        os.rename(tmp, path)
      finally:
        if os.path.exists(tmp):
          os.remove(tmp)
    finally:
      self.release()

  def _lock(self, key):
    if self._lock_fd is not None:
      return
    fd = os.open(os.path.join(self._dir, self.LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      sys.stderr.write('[dmlab-bridge pid %d] another bridge is compiling a map into %s; waiting for it before '
                       'compiling %s (one compile at a time per cache)\n' % (os.getpid(), self._dir, key))
      sys.stderr.flush()
      self._notify('waiting', key)
      fcntl.flock(fd, fcntl.LOCK_EX)
    self._lock_fd = fd

  def release(self):
    """Gives the compile lock back, if held (after a compile that never reached `write`, too)."""
    if self._lock_fd is None:
      return
    fd, self._lock_fd = self._lock_fd, None
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    self._notify('done', None)


class RequestError(Exception):
  """A request answered with an `error` reply of the given code."""

  def __init__(self, code, message):
    Exception.__init__(self, message)
    self.code = code


def _is_int(x):
  return isinstance(x, int) and not isinstance(x, bool)


def _check_keys(msg, keys):
  extra = sorted(set(msg) - set(keys) - {'v', 'type'})
  if extra:
    raise RequestError('schema', '%s: unrecognized key %r' % (msg['type'], extra[0]))
  for k in keys:
    if k not in msg:
      raise RequestError('schema', '%s: %s: missing' % (msg['type'], k))


def _check_int(msg, key, lo, hi):
  x = msg[key]
  if not _is_int(x) or not lo <= x <= hi:
    raise RequestError('schema', '%s: %s: expected an integer in [%d, %d], got %r' %
                       (msg['type'], key, lo, hi, x))
  return x


def parse_request(frame, max_bytes):
  """Decodes and validates one request frame; raises RequestError with the protocol's codes."""
  if len(frame) > max_bytes:
    raise RequestError('oversized', 'frame of %d bytes exceeds the limit of %d' % (len(frame), max_bytes))
  try:
    msg = msgpack.unpackb(frame, raw=False)
  except Exception as e:  # msgpack raises several types (ExtraData, FormatError, ValueError, ...)
    raise RequestError('not_msgpack', 'not msgpack: %s: %s' % (type(e).__name__, e))
  if not isinstance(msg, dict) or not isinstance(msg.get('type'), str):
    raise RequestError('no_type', 'not a map with a string `type` field')
  v = msg.get('v')
  if not _is_int(v) or v != PROTOCOL_VERSION:
    raise RequestError('bad_version', 'protocol version %r (this peer speaks %d)' % (v, PROTOCOL_VERSION))
  t = msg['type']
  if t not in MESSAGE_TYPES:
    raise RequestError('unknown_type', 'unknown message type %r' % t[:64])
  if t == 'env.reset':
    _check_keys(msg, ('seed',))
    _check_int(msg, 'seed', 0, 2 ** 32 - 1)
  elif t == 'env.step':
    _check_keys(msg, ('action', 'repeat'))
    _check_int(msg, 'action', 0, 2 ** 53)
    _check_int(msg, 'repeat', 1, MAX_REPEAT)
  elif t in ('env.spec', 'env.close'):
    _check_keys(msg, ())
  else:
    raise RequestError('unexpected_message', 'an env server does not serve %s' % t)
  return msg


def wire_array(a):
  if a.dtype.byteorder == '>':
    a = a.astype(a.dtype.newbyteorder('<'))
  return {'dtype': a.dtype.name, 'shape': list(a.shape), 'data': a.tobytes()}  # tobytes: C order


class StepReplyFrame(object):
  """The msgpack frame of a not-done `env.step.reply`, preallocated for one observation shape: a step copies
  its observation into place and patches the reward, so the reply costs one copy and no allocation."""

  def __init__(self, shape):
    n = int(np.prod(shape))
    # `obs.data` is the last field, so the observation's bytes end the frame.
    template = msgpack.packb({'v': PROTOCOL_VERSION, 'type': 'env.step.reply', 'done': False, 'reward': 0.0,
                              'obs': {'dtype': 'uint8', 'shape': list(shape), 'data': bytes(n)}}, use_bin_type=True)
    marker = msgpack.packb('reward') + b'\xcb'  # float64
    self._reward_at = template.index(marker) + len(marker)
    self.frame = bytearray(template)
    self._obs = np.frombuffer(self.frame, np.uint8, n, len(self.frame) - n).reshape(shape)

  def fill(self, obs, reward):
    if obs.shape != self._obs.shape:  # copyto would broadcast some
      raise ValueError('observation of shape %r, the spec says %r' % (obs.shape, self._obs.shape))
    struct.pack_into('>d', self.frame, self._reward_at, reward)
    np.copyto(self._obs, obs, casting='no')  # another dtype raises too (env_error)
    return self.frame


class DmLabEnv(object):
  """A `deepmind_lab.Lab` with cpc-lab's env semantics (action table, repeat, auto-reset with a
  fresh seed, episode return and length, optional truncation)."""

  def __init__(self, lab, name, max_episode_steps, level_cache=None):
    self._lab = lab
    self._cache = level_cache
    self._name = name
    self._max_steps = max_episode_steps
    self._actions = [np.array(a, dtype=np.intc) for a in ACTION_SET]
    self._rng = None
    self._return = 0.0
    self._length = 0
    shape = None
    for entry in lab.observation_spec():
      if entry['name'] == 'RGB_INTERLEAVED':
        shape = [int(d) for d in entry['shape']]
    if shape is None or len(shape) != 3 or shape[2] != 3:
      raise RuntimeError('RGB_INTERLEAVED observation of shape [H, W, 3] not offered, got %r' % (shape,))
    if len(lab.action_spec()) != len(ACTION_SET[0]):
      raise RuntimeError('expected %d action components, DeepMind Lab has %d' % (len(ACTION_SET[0]), len(lab.action_spec())))
    self.spec = {'observationShape': shape, 'numActions': len(ACTION_SET), 'level': name}
    self._frame = StepReplyFrame(shape)
    if max_episode_steps:
      self.spec['episodeLength'] = max_episode_steps

  def _call(self, method, *args, **kwargs):
    """A Lab call that may compile a map: the compile lock is free again after it, even if it failed."""
    try:
      return method(*args, **kwargs)
    finally:
      if self._cache is not None:
        self._cache.release()

  def _begin(self):
    self._call(self._lab.reset, seed=int(self._rng.randint(0, 2 ** 31 - 1)))
    self._return = 0.0
    self._length = 0

  def warm(self, seed, episodes):
    """Starts the first `episodes` episodes `reset(seed)` and the auto-resets after it play, so their maps
    are compiled into the level cache ahead of a run."""
    self._rng = np.random.RandomState(seed)
    for _ in range(episodes):
      self._begin()

  def _obs(self):
    return wire_array(self._lab.observations()['RGB_INTERLEAVED'])

  def reset(self, seed):
    self._rng = np.random.RandomState(seed)
    self._begin()
    return self._obs()

  def step(self, action, repeat):
    if action >= len(self._actions):
      raise RequestError('bad_action', 'action %d outside [0, %d)' % (action, len(self._actions)))
    if self._rng is None:
      raise RequestError('not_reset', 'env.step before env.reset')
    reward = float(self._call(self._lab.step, self._actions[action], num_steps=repeat))
    self._return += reward
    self._length += 1
    done = not self._lab.is_running() or (self._max_steps and self._length >= self._max_steps)
    if not done:
      return self._frame.fill(self._lab.observations()['RGB_INTERLEAVED'], reward)
    reply = {'type': 'env.step.reply', 'reward': reward, 'done': True,
             'episodeReturn': self._return, 'episodeLength': self._length}
    self._begin()
    reply['obs'] = self._obs()
    return reply

  def close(self):
    self._lab.close()


class Server(object):
  """One REP socket, one loop: read a request, answer it, never die of a bad one."""

  def __init__(self, env, endpoint, max_bytes, watch_stdin):
    self._env = env
    self._max_bytes = max_bytes
    self._watch_stdin = watch_stdin
    self._ctx = zmq.Context.instance()
    self._sock = self._ctx.socket(zmq.REP)
    self._sock.setsockopt(zmq.LINGER, 1000)
    # ZeroMQ drops a peer whose frame exceeds this before buffering it (as the TypeScript env server)
    self._sock.setsockopt(zmq.MAXMSGSIZE, max(max_bytes * 16, 1 << 20))
    self._sock.bind(endpoint)
    self.endpoint = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
    self.errors = {}

  def _error(self, code, message, request_type=None):
    n = self.errors.get(code, 0) + 1
    self.errors[code] = n
    if n <= LOG_FIRST or n % LOG_EVERY == 0:
      sys.stderr.write('[dmlab-bridge %s] %s%s: %s [%d so far]\n' % (
          self.endpoint, code, ' (%s)' % request_type if request_type else '', message, n))
      sys.stderr.flush()
    reply = {'type': 'error', 'code': code, 'message': message[:16384]}
    if request_type:
      reply['requestType'] = request_type[:256]
    return reply

  def _handle(self, frames):
    """Returns (reply, stop); reply is a message, or a finished frame (`StepReplyFrame`)."""
    if len(frames) != 1:
      return self._error('multipart', 'expected 1 frame, got %d' % len(frames)), False
    request_type = None
    try:
      msg = parse_request(frames[0], self._max_bytes)
      request_type = msg['type']
      if request_type == 'env.spec':
        return {'type': 'env.spec.reply', 'spec': self._env.spec}, False
      if request_type == 'env.reset':
        return {'type': 'env.reset.reply', 'obs': self._env.reset(msg['seed'])}, False
      if request_type == 'env.step':
        return self._env.step(msg['action'], msg['repeat']), False
      return {'type': 'env.close.reply'}, True
    except RequestError as e:
      return self._error(e.code, str(e), request_type), False
    except Exception as e:  # DeepMind Lab's own errors (RuntimeError, ValueError, ...)
      return self._error('env_error', '%s: %s' % (type(e).__name__, e), request_type), False

  def serve(self):
    if self._watch_stdin:
      threading.Thread(target=_exit_on_stdin_close, daemon=True).start()
    packer = msgpack.Packer(use_bin_type=True)
    try:
      while True:
        reply, stop = self._handle(self._sock.recv_multipart())
        if not isinstance(reply, bytearray):
          reply['v'] = PROTOCOL_VERSION
          reply = packer.pack(reply)
        self._sock.send(reply)  # copies: a StepReplyFrame is reused by the next step
        if stop:
          return
    finally:
      self._env.close()
      self._sock.close()


def _exit_on_stdin_close():
  # The parent holds our stdin open and never writes; EOF means it is gone, and nobody waits for a
  # clean close. Exit at once, as a SIGKILL would (a signal to ourselves proved unreliable at
  # interrupting pyzmq's blocking receive). A thread keeps this check out of the request path.
  while os.read(sys.stdin.fileno(), 4096):
    pass
  os._exit(0)


def is_loopback_endpoint(endpoint):
  """Whether only this machine reaches `endpoint` (as isLoopbackEndpoint in src/transport/endpoint.ts)."""
  transport, sep, rest = endpoint.partition('://')
  if not sep:
    return False
  if transport.lower() in ('ipc', 'inproc'):
    return True
  host = rest[:rest.index(']') + 1] if rest.startswith('[') else rest.split(':')[0].split('/')[0]
  host = host.lower()
  parts = host.split('.')
  return host in ('localhost', '[::1]') or (len(parts) == 4 and parts[0] == '127' and all(p.isdigit() for p in parts))


def _interrupt(signum, frame):
  raise KeyboardInterrupt()


def parse_config(pairs):
  config = {}
  for pair in pairs:
    key, sep, value = pair.partition('=')
    if not sep or not key:
      fail_startup('bad_arguments', '--config expects KEY=VALUE, got %r' % pair)
    config[key] = value
  return config


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--level', required=True, help='DeepMind Lab level path, e.g. contributed/dmlab30/rooms_watermaze')
  p.add_argument('--name', help='level name reported in the spec (default: --level)')
  p.add_argument('--endpoint', default='tcp://127.0.0.1:*', help='ZeroMQ endpoint to bind (default: a free loopback port)')
  p.add_argument('--width', type=int, default=96)
  p.add_argument('--height', type=int, default=72)
  p.add_argument('--fps', type=int, default=60)
  p.add_argument('--renderer', choices=('software', 'hardware'), default='software')
  p.add_argument('--minimal-ui', action='store_true', help="config minimalUI='true': no HUD in frames")
  p.add_argument('--level-cache', help='directory of compiled maps shared by all bridges')
  p.add_argument('--config', action='append', default=[], metavar='KEY=VALUE', help='extra level setting (repeatable)')
  p.add_argument('--max-episode-steps', type=int, default=0, help='end episodes after this many agent steps (0: the level decides)')
  p.add_argument('--max-bytes', type=int, default=DEFAULT_MAX_BYTES)
  p.add_argument('--exit-on-stdin-close', action='store_true', help='exit when the parent closes our stdin')
  p.add_argument('--warm-cache', type=int, metavar='EPISODES',
                 help='serve nothing: compile the maps of the first EPISODES episodes of each of --seeds into '
                      '--level-cache (the episodes env.reset(seed) and the auto-resets after it play), then exit')
  p.add_argument('--seeds', default='', help='comma-separated env.reset seeds, for --warm-cache')
  return p.parse_args(argv)


def warm_cache(args):
  """--warm-cache: compiles maps ahead of a run, prints `CPC_LAB_WARMED {"episodes", "compiled", "seconds"}`."""
  if not args.level_cache:
    fail_startup('bad_arguments', '--warm-cache needs --level-cache')
  try:
    seeds = [int(x) for x in args.seeds.split(',') if x]
  except ValueError:
    fail_startup('bad_arguments', '--seeds expects comma-separated integers, got %r' % args.seeds)
  _, lab, level_cache = open_lab(args)
  env = DmLabEnv(lab, args.name or args.level, 0, level_cache)
  start = time.time()
  for i, seed in enumerate(seeds):
    env.warm(seed, args.warm_cache)
    sys.stderr.write('[dmlab-bridge] warm-cache %s: environment %d/%d (seed %d): %d episodes, %d maps compiled so far\n'
                     % (args.level, i + 1, len(seeds), seed, args.warm_cache, level_cache.compiled))
    sys.stderr.flush()
  env.close()
  emit(WARMED_PREFIX, {'episodes': len(seeds) * args.warm_cache, 'compiled': level_cache.compiled,
                           'seconds': time.time() - start})


LIBRARY_HINT = (
    'deepmind_lab.so alone is not enough: it loads libdmlab_headless_sw.so (--renderer software) or '
    'libdmlab_headless_hw.so (hardware) and the game files (baselab/) from the folder it sits in; install the wheel '
    '(bazel build -c opt //python/pip_package:build_pip_package, then pip install it) or point --dmlab-path / '
    'CPC_LAB_DMLAB_PATH at a folder holding the whole build')


def lab_init_hint(text):
  """What to do about DeepMind Lab's constructor error `text`, where there is something to say."""
  if 'Failed to connect RL API' in text:
    return LIBRARY_HINT
  if 'must be a positive multiple of 4' in text:
    return 'DeepMind Lab renders frames whose width and height are positive multiples of 4 (e.g. 96 x 72)'
  if 'Invalid setting' in text:
    return ('the level does not know this setting: check the spelling of the --config / extraConfig keys '
            '(level settings are case-sensitive, e.g. episodeLengthSeconds)')
  return None


def notify_compile(state, key):
  emit(COMPILE_PREFIX, {'state': state, 'key': key})


def open_lab(args):
  """(module, `deepmind_lab.Lab`, level cache or None) the arguments describe; a start-up error (CPC_LAB_ERROR,
  exit 2) if the Lab cannot be made. Also used by scripts/bench-transport.ts to step the same level directly."""
  try:
    import deepmind_lab
  except ImportError as e:
    fail_startup(
        'deepmind_lab_not_found', '%s (python: %s; sys.path: %s)' % (e, sys.executable, os.pathsep.join(sys.path)),
        'build DeepMind Lab\'s Python module (bazel build -c opt //python/pip_package:build_pip_package, '
        'then pip install the wheel) or point cpc-lab at the directory holding deepmind_lab with '
        '--dmlab-path / CPC_LAB_DMLAB_PATH; `cpc-lab doctor` checks it')

  config = {'width': str(args.width), 'height': str(args.height), 'fps': str(args.fps)}
  if args.minimal_ui:
    config['minimalUI'] = 'true'
  config.update(parse_config(args.config))
  try:
    level_cache = DirectoryLevelCache(args.level_cache, notify_compile) if args.level_cache else None
    lab = deepmind_lab.Lab(args.level, ['RGB_INTERLEAVED'], config=config, renderer=args.renderer,
                           level_cache=level_cache)
    return deepmind_lab, lab, level_cache
  except Exception as e:
    text = '%s: %s' % (type(e).__name__, e)
    if 'Level not found' in text or "Can't find" in text:
      fail_startup('level_not_found', text,
                   'use a level path relative to game_scripts/levels, e.g. contributed/dmlab30/rooms_watermaze; '
                   'the five paper levels also work by short name (dmlab:rooms_watermaze)')
    fail_startup('lab_init_failed', text, lab_init_hint(text))


def name_process():
  """What `top` shows (Linux, at most 15 characters): without setproctitle Python cannot change its command line,
  which `ps` shows and which already names the server and its level."""
  try:
    with open('/proc/self/comm', 'w') as f:
      f.write('cpc-lab dmlab')
  except OSError:
    pass


def main(argv=None):
  args = parse_args(argv)
  name_process()
  if args.warm_cache is not None:
    return warm_cache(args)
  if not is_loopback_endpoint(args.endpoint):
    fail_startup('bad_arguments', 'refusing to bind %s: env servers bind to ipc://, 127.0.0.1 or inproc://' % args.endpoint)

  deepmind_lab, lab, level_cache = open_lab(args)
  try:
    env = DmLabEnv(lab, args.name or args.level, args.max_episode_steps, level_cache)
  except Exception as e:
    fail_startup('lab_init_failed', '%s: %s' % (type(e).__name__, e))

  try:
    server = Server(env, args.endpoint, args.max_bytes, args.exit_on_stdin_close)
  except zmq.ZMQError as e:
    fail_startup('bind_failed', 'cannot bind %s: %s' % (args.endpoint, e))
  emit(READY_PREFIX, {'endpoint': server.endpoint, 'pid': os.getpid(), 'spec': env.spec,
                      'deepmindLab': getattr(deepmind_lab, '__file__', None)})
  # SIGTERM (supervisor stop) closes DeepMind Lab like Ctrl-C does.
  signal.signal(signal.SIGTERM, _interrupt)
  try:
    server.serve()
  except KeyboardInterrupt:
    pass


if __name__ == '__main__':
  main()
