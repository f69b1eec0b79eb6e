#!/usr/bin/env python3
"""Lambda cold start: process start to the first answered invocation, under cargo-lambda's local
runtime emulator (scripts/cargo-lambda-venv.sh), five times on a new SQLite file (migrating it) and
five times on a migrated one.

    cargo build --release -p tessera --features aws
    python3 bench/lambda_cold_start.py [path/to/tessera]

The figures include the emulator's round trip; compare builds in one run, not across machines."""
import subprocess, time, socket, json, os, tempfile, urllib.request, sys
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(target, "release", "tessera")
cargo_lambda = subprocess.run(["bash", os.path.join(root, "scripts/cargo-lambda-venv.sh")], check=True,
                              capture_output=True, text=True).stdout.strip()
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
emu=subprocess.Popen([cargo_lambda,"lambda","watch","--only-lambda-apis","--invoke-address","127.0.0.1","--invoke-port",str(port)],cwd=root,stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
while True:
    try: socket.create_connection(("127.0.0.1",port)).close(); break
    except OSError: time.sleep(0.05)
ev={"version":"2.0","routeKey":"$default","rawPath":"/health","rawQueryString":"","headers":{"host":"x"},"requestContext":{"accountId":"1","apiId":"a","domainName":"x","domainPrefix":"x","http":{"method":"GET","path":"/health","protocol":"HTTP/1.1","sourceIp":"198.51.100.7","userAgent":"t"},"requestId":"r","routeKey":"$default","stage":"$default","time":"06/Dec/2026:12:00:00 +0000","timeEpoch":0},"isBase64Encoded":False}
res=[]
for i in range(5):
    d=tempfile.mkdtemp()
    env=dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"http://127.0.0.1:{port}/.rt", AWS_LAMBDA_FUNCTION_NAME="_", AWS_LAMBDA_FUNCTION_VERSION="1", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512", TESSERA_DATABASE_URL=f"sqlite://{d}/l.db", TESSERA_LOG="warn")
    t0=time.perf_counter()
    p=subprocess.Popen([binary],env=env,stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
    r=urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/2015-03-31/functions/_/invocations",data=json.dumps(ev).encode(),headers={"content-type":"application/json"}),timeout=30).read()
    t1=time.perf_counter()
    assert b'"statusCode":200' in r, r
    # second start on the same (already migrated) database
    p.kill(); p.wait()
    t2=time.perf_counter()
    p=subprocess.Popen([binary],env=env,stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
    r=urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/2015-03-31/functions/_/invocations",data=json.dumps(ev).encode(),headers={"content-type":"application/json"}),timeout=30).read()
    t3=time.perf_counter()
    p.kill(); p.wait()
    res.append(((t1-t0)*1000,(t3-t2)*1000))
emu.kill()
print("new db ms:", [round(a,1) for a,_ in res]); print("migrated db ms:", [round(b,1) for _,b in res])
