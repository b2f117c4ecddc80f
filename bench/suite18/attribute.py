# attribute.py OUT_DIR COST_DATA [HZ]: per test (the ctest of each lane line and its descendants,
# by the ppid of each accounting record), clapsearch starts and their user+sys CPU, all processes.
import subprocess, collections, sys, os
out, cost_data = sys.argv[1], sys.argv[2]
rows = subprocess.run(["dump-acct", os.path.join(out, "acct.dat")], capture_output=True, text=True).stdout.splitlines()
procs = {}
for r in rows:
    f = [x.strip() for x in r.split("|")]
    if len(f) < 11: continue
    cmd, ut, st, el, pid, ppid = f[0], float(f[2]), float(f[3]), float(f[4]), int(f[9]), int(f[10])
    procs.setdefault(pid, []).append((cmd, ut, st, el, ppid))
parent = {pid: v[-1][4] for pid, v in procs.items()}
roots = {}
for lane in [os.path.join(out, "laneA.txt"), os.path.join(out, "laneB.txt")]:
    try:
        for line in open(lane):
            p = line.split()
            roots[int(p[0])] = p[1]
    except FileNotFoundError: pass
HZ = float(sys.argv[3]) if len(sys.argv) > 3 else 100.0  # acct v3 counts AHZ=100 ticks
stats = collections.defaultdict(lambda: [0, 0.0, 0, 0.0])  # cli starts, cli cpu, all procs, all cpu
orphans = 0
for pid, v in procs.items():
    a, seen = pid, 0
    while a not in roots and a in parent and seen < 100:
        a = parent[a]; seen += 1
    if a not in roots:
        if v[-1][0] == "clapsearch": orphans += 1
        continue
    t = roots[a]
    for cmd, ut, st, el, ppid in v:
        stats[t][2] += 1; stats[t][3] += (ut + st) / HZ
        if cmd == "clapsearch":
            stats[t][0] += 1; stats[t][1] += (ut + st) / HZ
cost = {}
for line in open(cost_data):
    p = line.split()
    if len(p) == 3: cost[p[0]] = float(p[2])
print("test | lead s | clapsearch starts | their cpu s | all processes | all cpu s")
for t in sorted(stats, key=lambda t: -cost.get(t, 0)):
    s = stats[t]
    print(f"{t} | {cost.get(t,0):.1f} | {s[0]} | {s[1]:.1f} | {s[2]} | {s[3]:.1f}")
print("clapsearch orphans (not attributed):", orphans)
