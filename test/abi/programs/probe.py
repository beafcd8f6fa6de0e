# Debian's python3 under `typevisor exec --root`, compared with qemu-riscv64 (test/abi/Python.test.ts):
# hashlib, zlib, json, threading, socket, select, subprocess and signal. Output is deterministic.
import hashlib, json, os, select, signal, socket, subprocess, sys, threading, zlib

data = b"typevisor " * 1000
print("sha256", hashlib.sha256(data).hexdigest())
print("md5", hashlib.md5(data).hexdigest())
z = zlib.compress(data, 9)
print("zlib", len(z), zlib.crc32(data), zlib.decompress(z) == data)
doc = json.loads(json.dumps({"a": [1, 2.5, None, True], "b": {"c": "d"}}, sort_keys=True))
print("json", json.dumps(doc, sort_keys=True))

# threading: 8 threads, a lock, a condition, a barrier, thread-local data.
lock = threading.Lock()
cond = threading.Condition()
barrier = threading.Barrier(8)
local = threading.local()
total = 0
ready = []
def work(i):
    global total
    local.v = i * i
    for _ in range(200):
        with lock:
            total += 1
    barrier.wait()
    with cond:
        ready.append(local.v)
        cond.notify_all()
threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads: t.start()
with cond:
    cond.wait_for(lambda: len(ready) == 8, timeout=60)
for t in threads: t.join()
print("threads", total, sorted(ready))

# socket + select: an echo server thread on loopback TCP, a UDP round trip, a socketpair.
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen()
port = srv.getsockname()[1]
def serve():
    c, _ = srv.accept()
    with c:
        while True:
            b = c.recv(65536)
            if not b: break
            c.sendall(b.upper())
st = threading.Thread(target=serve)
st.start()
cl = socket.create_connection(("127.0.0.1", port), timeout=30)
cl.sendall(b"hello " * 5000)
cl.shutdown(socket.SHUT_WR)
got = b""
while True:
    r, _, _ = select.select([cl], [], [], 30)
    if not r: break
    b = cl.recv(65536)
    if not b: break
    got += b
cl.close()
st.join()
print("tcp echo", len(got), got[:12])
u1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u1.bind(("127.0.0.1", 0))
u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u2.bind(("127.0.0.1", 0))
u1.sendto(b"datagram", u2.getsockname())
msg, frm = u2.recvfrom(100)
print("udp", msg, frm == u1.getsockname())
a, b = socket.socketpair()
a.sendall(b"pair")
p = select.poll(); p.register(b, select.POLLIN)
print("socketpair", p.poll(1000) == [(b.fileno(), select.POLLIN)], b.recv(10))
with open("/etc/os-release", "rb") as f:
    want = f.read()
    sent = a.sendfile(f)  # os.sendfile on a stream socket
got = b""
while len(got) < sent:
    got += b.recv(65536)
print("sendfile", sent == len(want), got == want)
print("getaddrinfo", sorted({ai[4][0] for ai in socket.getaddrinfo("127.0.0.1", 80, socket.AF_INET)}))

# subprocess (posix_spawn / vfork) and signal.
r = subprocess.run([sys.executable, "-B", "-c", "import sys; print(6 * 7); sys.exit(3)"], capture_output=True, text=True)
print("subprocess", r.returncode, r.stdout.strip())
out = subprocess.check_output([sys.executable, "-B", "-c", "import os; print(os.getppid() > 1)"], text=True)
print("subprocess ppid", out.strip())
got_sig = []
signal.signal(signal.SIGUSR1, lambda s, f: got_sig.append(s))
os.kill(os.getpid(), signal.SIGUSR1)
signal.signal(signal.SIGALRM, lambda s, f: got_sig.append(s))
signal.setitimer(signal.ITIMER_REAL, 0.05)
signal.pause() if len(got_sig) < 2 else None
print("signals", got_sig)
print("done")
