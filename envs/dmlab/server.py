#!/usr/bin/env python3
"""cpc-lab's DeepMind Lab bridge: serves E `deepmind_lab.Lab`s of one level (`--envs E`, an actor's
environments) over the batched env protocol, stepping all of them per message.

The protocol is cpc-lab's (`src/transport/messages.ts`): msgpack maps with `v` (protocol
version) and `type`, request/reply on a ZeroMQ REP socket:

    env.spec            -> env.spec.reply  {spec: {observationShape, numActions, level, episodeLength?}, size: E}
    env.batch.reset {seeds: E ints}
                        -> env.batch.reset.reply {obs: uint8 [E, H, W, 3]}
    env.batch.step {actions: int32 [E], repeat}
                        -> env.batch.step.reply {obs: uint8 [E, H, W, 3], rewards: float64 [E], dones: uint8 [E],
                                                 episodeReturns: float64 [E], episodeLengths: int32 [E]}
    env.close           -> env.close.reply, then the process exits
    anything malformed  -> error {code, message, requestType?, env?}; the server keeps serving

Arrays travel as {dtype, shape, data} with `data` raw little-endian bytes. Action indices map to
the IMPALA action set (7-int DeepMind Lab actions) and are applied with
`Lab.step(action, num_steps=repeat)`. On episode end the bridge resets that level's Lab with a fresh
seed from the level's own generator (seeded by its `env.batch.reset` seed), as deepmind/scalable_agent
does; the reply marks it in `dones` with the episode's return and length, and its `obs` row is the
first observation of the next episode. The other levels of the batch go on. A level that raises fails
the whole request (`env_error`, `env` naming the level): the client replaces the bridge.

`Lab.step` holds the GIL, so one bridge steps its levels one after another on one core; a run uses
its cores through several bridges (one per actor). The step reply is one preallocated frame: each
level's observation is copied into place, nothing is allocated per level.

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

PROTOCOL_VERSION = 3  # must equal src/transport/messages.ts

# Every message type of the protocol (must equal MESSAGE_TYPES in src/transport/messages.ts; a test
# checks it). Known types this bridge does not serve get `unexpected_message`, others `unknown_type`.
MESSAGE_TYPES = (
    'env.spec', 'env.reset', 'env.step', 'env.close',
    'env.spec.reply', 'env.reset.reply', 'env.step.reply', 'env.close.reply',
    'env.batch.reset', 'env.batch.step', 'env.batch.reset.reply', 'env.batch.step.reply',
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
MAX_ENVS = 1024  # must equal MAX_BATCH_ENVS in src/transport/messages.ts
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
  """A request answered with an `error` reply of the given code (`env`: the level of the batch it concerns)."""

  def __init__(self, code, message, env=None):
    Exception.__init__(self, message)
    self.code = code
    self.env = env


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
  if t == 'env.batch.reset':
    _check_keys(msg, ('seeds',))
    seeds = msg['seeds']
    if not isinstance(seeds, list) or not 1 <= len(seeds) <= MAX_ENVS:
      raise RequestError('schema', 'env.batch.reset: seeds: expected a list of 1 to %d integers' % MAX_ENVS)
    for i, seed in enumerate(seeds):
      if not _is_int(seed) or not 0 <= seed <= 2 ** 32 - 1:
        raise RequestError('schema', 'env.batch.reset: seeds.%d: expected an integer in [0, %d], got %r' % (i, 2 ** 32 - 1, seed))
  elif t == 'env.batch.step':
    _check_keys(msg, ('actions', 'repeat'))
    msg['actions'] = _int32_vector(msg, 'actions')
    _check_int(msg, 'repeat', 1, MAX_REPEAT)
  elif t in ('env.spec', 'env.close'):
    _check_keys(msg, ())
  elif t in ('env.reset', 'env.step'):
    raise RequestError('unexpected_message', 'the DeepMind Lab bridge serves batches: send env.batch.%s' % t[4:])
  else:
    raise RequestError('unexpected_message', 'an env server does not serve %s' % t)
  return msg


def _int32_vector(msg, key):
  """`msg[key]` as a wire array int32 [n] (checked as the TypeScript side checks one), read without a copy."""
  a = msg[key]
  where = '%s: %s' % (msg['type'], key)
  if not isinstance(a, dict) or set(a) != {'dtype', 'shape', 'data'}:
    raise RequestError('schema', '%s: expected {dtype, shape, data}' % where)
  if a['dtype'] != 'int32':
    raise RequestError('bad_dtype', '%s: expected int32, got %r' % (where, a['dtype']))
  shape = a['shape']
  if not isinstance(shape, list) or len(shape) != 1 or not _is_int(shape[0]) or not 1 <= shape[0] <= MAX_ENVS:
    raise RequestError('bad_shape', '%s: expected shape [n], 1 <= n <= %d, got %r' % (where, MAX_ENVS, shape))
  if not isinstance(a['data'], bytes) or len(a['data']) != 4 * shape[0]:
    raise RequestError('bad_array', '%s: int32 [%d] needs %d bytes' % (where, shape[0], 4 * shape[0]))
  return np.frombuffer(a['data'], '<i4')


def wire_array(a):
  if a.dtype.byteorder == '>':
    a = a.astype(a.dtype.newbyteorder('<'))
  return {'dtype': a.dtype.name, 'shape': list(a.shape), 'data': a.tobytes()}  # tobytes: C order


class BatchStepFrame(object):
  """The msgpack frame of an `env.batch.step.reply` for E levels, preallocated: a step writes each level's
  observation, reward, done and episode stats into numpy views of the frame, so a reply allocates nothing."""

  # Each array's `data` is the last field of its map, so its bytes end the array's piece of the frame.
  FIELDS = (('rewards', '<f8', ()), ('dones', 'u1', ()), ('episodeReturns', '<f8', ()), ('episodeLengths', '<i4', ()),
            ('obs', 'u1', None))

  def __init__(self, size, shape):
    packer = msgpack.Packer(use_bin_type=True)
    pieces = [packer.pack_map_header(2 + len(self.FIELDS)), packer.pack('v'), packer.pack(PROTOCOL_VERSION),
              packer.pack('type'), packer.pack('env.batch.step.reply')]
    spans = {}
    at = sum(len(p) for p in pieces)
    for name, dtype, rest in self.FIELDS:
      dims = [size] + list(shape if rest is None else rest)
      n = int(np.prod(dims)) * np.dtype(dtype).itemsize
      piece = packer.pack(name) + packer.pack({'dtype': np.dtype(dtype).name, 'shape': dims, 'data': bytes(n)})
      pieces.append(piece)
      at += len(piece)
      spans[name] = (at - n, dtype, dims)
    self.frame = bytearray(b''.join(pieces))
    for name, (start, dtype, dims) in spans.items():
      setattr(self, name, np.frombuffer(self.frame, dtype, int(np.prod(dims)), start).reshape(dims))

  def put_obs(self, i, obs):
    if obs.shape != self.obs.shape[1:]:  # copyto would broadcast some
      raise ValueError('observation of shape %r, the spec says %r' % (obs.shape, self.obs.shape[1:]))
    np.copyto(self.obs[i], obs, casting='no')  # another dtype raises too (env_error)


class DmLabEnv(object):
  """A `deepmind_lab.Lab` with cpc-lab's env semantics (action table, repeat, auto-reset with a
  fresh seed, episode return and length, optional truncation), writing into a `BatchStepFrame` row."""

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

  def observation(self):
    return self._lab.observations()['RGB_INTERLEAVED']

  def reset(self, seed):
    self._rng = np.random.RandomState(seed)
    self._begin()

  def step(self, action, repeat, frame, i):
    """Steps with action index `action` (checked by the server) and writes row `i` of `frame`."""
    reward = float(self._call(self._lab.step, self._actions[action], num_steps=repeat))
    self._return += reward
    self._length += 1
    done = not self._lab.is_running() or (self._max_steps and self._length >= self._max_steps)
    frame.rewards[i] = reward
    frame.dones[i] = done
    frame.episodeReturns[i] = self._return if done else 0.0
    frame.episodeLengths[i] = self._length if done else 0
    if done:
      self._begin()
    frame.put_obs(i, self.observation())

  def close(self):
    self._lab.close()


class Batch(object):
  """The E levels of one bridge, stepped one after another per request."""

  def __init__(self, envs):
    self.envs = envs
    self.spec = envs[0].spec
    self._frame = BatchStepFrame(len(envs), self.spec['observationShape'])
    self._started = False

  def _each(self, f):
    for i, env in enumerate(self.envs):
      try:
        f(i, env)
      except RequestError:
        raise
      except Exception as e:  # DeepMind Lab's own errors (RuntimeError, ValueError, ...)
        raise RequestError('env_error', 'level %d of %d: %s: %s' % (i, len(self.envs), type(e).__name__, e), i)

  def _check_size(self, n, what):
    if n != len(self.envs):
      raise RequestError('bad_shape', '%s for %d levels, this bridge hosts %d' % (what, n, len(self.envs)))

  def reset(self, seeds):
    self._check_size(len(seeds), 'seeds')
    obs = np.empty(self._frame.obs.shape, np.uint8)

    def one(i, env):
      env.reset(seeds[i])
      obs[i] = env.observation()
    self._each(one)
    self._started = True
    return wire_array(obs)

  def step(self, actions, repeat):
    self._check_size(len(actions), 'actions')
    bad = np.flatnonzero((actions < 0) | (actions >= len(ACTION_SET)))
    if bad.size:
      i = int(bad[0])
      raise RequestError('bad_action', 'level %d: action %d outside [0, %d)' % (i, actions[i], len(ACTION_SET)), i)
    if not self._started:
      raise RequestError('not_reset', 'env.batch.step before env.batch.reset')
    frame = self._frame
    self._each(lambda i, env: env.step(int(actions[i]), repeat, frame, i))
    return frame.frame

  def close(self):
    for env in self.envs:
      env.close()


class Server(object):
  """One REP socket, one loop: read a request, answer it, never die of a bad one."""

  def __init__(self, batch, endpoint, max_bytes, watch_stdin):
    self._batch = batch
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

  def _error(self, code, message, request_type=None, env=None):
    n = self.errors.get(code, 0) + 1
    self.errors[code] = n
    if n <= LOG_FIRST or n % LOG_EVERY == 0:
      sys.stderr.write('[dmlab-bridge %s] %s%s: %s [%d so far]\n' % (
          self.endpoint, code, ' (%s)' % request_type if request_type else '', message, n))
      sys.stderr.flush()
    reply = {'type': 'error', 'code': code, 'message': message[:16384]}
    if request_type:
      reply['requestType'] = request_type[:256]
    if env is not None:
      reply['env'] = env
    return reply

  def _handle(self, frames):
    """Returns (reply, stop); reply is a message, or a finished frame (`BatchStepFrame`)."""
    if len(frames) != 1:
      return self._error('multipart', 'expected 1 frame, got %d' % len(frames)), False
    request_type = None
    try:
      msg = parse_request(frames[0], self._max_bytes)
      request_type = msg['type']
      if request_type == 'env.spec':
        return {'type': 'env.spec.reply', 'spec': self._batch.spec, 'size': len(self._batch.envs)}, False
      if request_type == 'env.batch.reset':
        return {'type': 'env.batch.reset.reply', 'obs': self._batch.reset(msg['seeds'])}, False
      if request_type == 'env.batch.step':
        return self._batch.step(msg['actions'], msg['repeat']), False
      return {'type': 'env.close.reply'}, True
    except RequestError as e:
      return self._error(e.code, str(e), request_type, e.env), False
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
        self._sock.send(reply)  # copies: a BatchStepFrame is reused by the next step
        if stop:
          return
    finally:
      self._batch.close()
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
  p.add_argument('--envs', type=int, default=1, help='levels this bridge hosts and steps per request (an actor\'s environments)')
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

  if not 1 <= args.envs <= MAX_ENVS:
    fail_startup('bad_arguments', '--envs must be in [1, %d], got %d' % (MAX_ENVS, args.envs))
  envs = []
  for _ in range(args.envs):
    deepmind_lab, lab, level_cache = open_lab(args)
    try:
      envs.append(DmLabEnv(lab, args.name or args.level, args.max_episode_steps, level_cache))
    except Exception as e:
      fail_startup('lab_init_failed', '%s: %s' % (type(e).__name__, e))
  batch = Batch(envs)

  try:
    server = Server(batch, args.endpoint, args.max_bytes, args.exit_on_stdin_close)
  except zmq.ZMQError as e:
    fail_startup('bind_failed', 'cannot bind %s: %s' % (args.endpoint, e))
  emit(READY_PREFIX, {'endpoint': server.endpoint, 'pid': os.getpid(), 'spec': batch.spec, 'size': len(envs),
                      'deepmindLab': getattr(deepmind_lab, '__file__', None)})
  # SIGTERM (supervisor stop) closes DeepMind Lab like Ctrl-C does.
  signal.signal(signal.SIGTERM, _interrupt)
  try:
    server.serve()
  except KeyboardInterrupt:
    pass


if __name__ == '__main__':
  main()
