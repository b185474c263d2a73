# Saker's Python fork server (run with `python -c`, see python_fork.rs). It pays the
# interpreter's start-up once, then forks one child per Python script task. Protocol on the
# control socket (fd 0, SOCK_SEQPACKET, one record per task): a JSON request
# {"script", "cwd", "env"} with three descriptors attached: the task's reply socket, and the
# write ends of its stdout and stderr pipes. On the reply socket the server writes
# "P <pid>\n" once the child runs in its own process group, then "E <code>\n" when it ends
# (128 + signal when a signal ended it, as a shell reports it). The server ends when the
# control socket closes (Saker exited). Only os, sys, socket, selectors, signal and json are
# imported before forking, so a script sees the same fresh interpreter as `python script.py`.
import json, os, selectors, signal, socket, sys


def serve():
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET, fileno=0)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    sel = selectors.DefaultSelector()
    sel.register(ctl, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    replies = {}
    fd_size = socket.CMSG_SPACE(3 * 4)
    while True:
        for key, _ in sel.select():
            if key.fileobj is ctl:
                data, ancillary, flags, _ = ctl.recvmsg(4 << 20, fd_size)
                fds = []
                for level, kind, payload in ancillary:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        usable = len(payload) - len(payload) % 4
                        fds.extend(
                            int.from_bytes(payload[i : i + 4], sys.byteorder)
                            for i in range(0, usable, 4)
                        )
                if not data and not fds:
                    sys.exit(0)
                if len(fds) != 3 or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
                    for fd in fds:
                        os.close(fd)
                    continue
                reply = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=fds[0])
                try:
                    request = json.loads(data)
                    pid = os.fork()
                except Exception as error:
                    send(reply, "X %s\n" % str(error).replace("\n", " "))
                    reply.close()
                    os.close(fds[1])
                    os.close(fds[2])
                    continue
                if pid == 0:
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    sel.close()
                    ctl.close()
                    os.close(wake_r)
                    os.close(wake_w)
                    reply.close()
                    for other in replies.values():
                        other.close()
                    return request, fds[1], fds[2]
                # Set from both sides, so the group exists before the pid is announced.
                try:
                    os.setpgid(pid, pid)
                except OSError:
                    pass
                os.close(fds[1])
                os.close(fds[2])
                replies[pid] = reply
                send(reply, "P %d\n" % pid)
            else:
                try:
                    os.read(wake_r, 4096)
                except BlockingIOError:
                    pass
                while True:
                    try:
                        pid, status = os.waitpid(-1, os.WNOHANG)
                    except ChildProcessError:
                        break
                    if pid == 0:
                        break
                    if os.WIFSIGNALED(status):
                        code = 128 + os.WTERMSIG(status)
                    else:
                        code = os.WEXITSTATUS(status)
                    reply = replies.pop(pid, None)
                    if reply is not None:
                        send(reply, "E %d\n" % code)
                        reply.close()


def send(reply, text):
    try:
        reply.sendall(text.encode())
    except OSError:
        pass  # the task is gone (killed or aborted): nobody waits for the answer


request, out, err = serve()
del serve, send
os.setpgid(0, 0)
null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, 0)
os.dup2(out, 1)
os.dup2(err, 2)
for fd in (null, out, err):
    if fd > 2:
        os.close(fd)
os.chdir(request["cwd"])
os.environ.clear()
os.environ.update(request["env"])
script = request["script"]
sys.argv[:] = [script]
sys.path[0] = os.path.dirname(os.path.abspath(script))
del request, out, err, null, fd
import types as _types

_server = sys.modules["__main__"]  # keeps this code's globals alive
_main = _types.ModuleType("__main__")
_main.__file__ = script
_main.__cached__ = None
_main.__builtins__ = __builtins__
sys.modules["__main__"] = _main
_code = 0
try:
    with open(script, "rb") as _source:
        _compiled = compile(_source.read(), script, "exec")
    del _source
    exec(_compiled, _main.__dict__)
except SystemExit as _exit:
    # The interpreter's own rules for the argument of sys.exit().
    if _exit.code is None:
        _code = 0
    elif isinstance(_exit.code, int):
        _code = _exit.code & 0xFF
    else:
        try:
            print(_exit.code, file=sys.stderr)
        except Exception:
            pass
        _code = 1
    del _exit
except BaseException as _error:
    # As the interpreter reports an uncaught exception, without this file's frame.
    _error.__traceback__ = _error.__traceback__.tb_next
    sys.excepthook(type(_error), _error, _error.__traceback__)
    _code = 130 if isinstance(_error, KeyboardInterrupt) else 1
    del _error
# The interpreter's shutdown, minus the teardown of every module: tearing down the heap
# inherited from the server costs more than the typical script (each page it frees is copied
# first). Same order as Py_FinalizeEx: non-daemon threads are joined, atexit functions run, the
# script's globals are released (so files it left open are flushed and closed), the standard
# streams are flushed.
if "threading" in sys.modules:
    try:
        sys.modules["threading"]._shutdown()
    except BaseException:
        pass
import atexit as _atexit

_atexit._run_exitfuncs()
_main.__dict__.clear()
for _stream in (sys.stdout, sys.stderr):
    try:
        _stream.flush()
    except BaseException:
        pass
if _code == 130:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
os._exit(_code)
