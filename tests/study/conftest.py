"""The study tests' fixtures: a stand-in Slurm (``sbatch``/``srun``/``sacct``/``squeue``/``scancel``
scripts at the front of ``PATH`` that run each array task as a local process, with the environment
Slurm gives it, and answer ``sacct`` in the format submitit parses)."""
from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

import pytest

#: one stand-in for every Slurm command (its role: the name it is called by). FAKE_SLURM_DIR holds
#: the copies of the submitted scripts (sbatch_ID.sh), each task's state (state/ID or state/ID_INDEX)
#: and the next job id; FAKE_SBATCH_FAIL, when set, is the error sbatch answers with.
FAKE_SLURM = r'''
import os, re, shlex, shutil, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(os.environ["FAKE_SLURM_DIR"])
STATES = ROOT / "state"


def set_state(key, state):
    tmp = STATES / (key + ".tmp")
    tmp.write_text(state)
    os.replace(tmp, STATES / key)


def sbatch(script):
    if os.environ.get("FAKE_SBATCH_FAIL"):
        sys.exit("sbatch: error: " + os.environ["FAKE_SBATCH_FAIL"])
    counter = ROOT / "next_id"
    jid = int(counter.read_text())
    counter.write_text(str(jid + 100))
    record = ROOT / ("sbatch_%d.sh" % jid)
    shutil.copy(script, record)
    STATES.mkdir(exist_ok=True)
    array = re.search(r"^#SBATCH --array=0-(\d+)%(\d+)$", record.read_text(), re.M)
    keys = ["%d_%d" % (jid, i) for i in range(int(array.group(1)) + 1)] if array else [str(jid)]
    for key in keys:
        set_state(key, "PENDING")
    par = array.group(2) if array else "1"
    subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "drive", str(jid), par, str(record)], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print("Submitted batch job %d" % jid)


def subst(pattern, env):
    out = pattern.replace("%A", env.get("SLURM_ARRAY_JOB_ID", env["SLURM_JOB_ID"]))
    out = out.replace("%a", env.get("SLURM_ARRAY_TASK_ID", "0")).replace("%j", env["SLURM_JOB_ID"])
    return out.replace("%t", env["SLURM_PROCID"])


def drive(jid, par, record):
    opts = {k: shlex.split(v)[0] for k, v in re.findall(r"^#SBATCH --([\w-]+)=(.*)$", Path(record).read_text(), re.M)}
    jid = int(jid)

    def task(index):
        env = dict(os.environ, SLURM_JOB_ID=str(jid + (index or 0)), SLURM_NTASKS="1", SLURM_PROCID="0",
                   SLURM_LOCALID="0", SLURM_NODEID="0", SLURM_JOB_NUM_NODES="1", SLURM_JOB_NODELIST="fakenode1")
        key = str(jid)
        if index is not None:
            env.update(SLURM_ARRAY_JOB_ID=str(jid), SLURM_ARRAY_TASK_ID=str(index))
            key = "%d_%d" % (jid, index)
        if str(index) in os.environ.get("FAKE_SLURM_CANCEL", "").split(","):
            return set_state(key, "CANCELLED by 0")  # as scancel before the task started
        set_state(key, "RUNNING")
        with open(subst(opts["output"], env), "a") as out, open(subst(opts["error"], env), "a") as err:
            rc = subprocess.call(["bash", record], env=env, stdout=out, stderr=err)
        set_state(key, "COMPLETED" if rc == 0 else "FAILED")

    array = re.fullmatch(r"0-(\d+)%\d+", opts.get("array", ""))
    with ThreadPoolExecutor(int(par)) as pool:
        list(pool.map(task, range(int(array.group(1)) + 1) if array else [None]))


def srun(args):
    files = {}
    while args and args[0].startswith("--"):
        flag = args.pop(0)
        if flag in ("--output", "--error"):
            files[flag] = subst(args.pop(0), os.environ)
    with open(files["--output"], "a") as out, open(files.get("--error", files["--output"]), "a") as err:
        sys.exit(subprocess.call(args, stdout=out, stderr=err))


def sacct(args):
    ids = [args[i + 1] for i, a in enumerate(args) if a == "-j"]
    print("JobID|State|NodeList")
    for jid in ids:
        for path in sorted(STATES.glob(jid)) + sorted(STATES.glob(jid + "_*")):
            if not path.name.endswith(".tmp"):
                print("%s|%s|fakenode1" % (path.name, path.read_text()))


def scancel(args):
    with open(ROOT / "scancel.log", "a") as out:
        out.write(" ".join(args) + "\n")


role, args = Path(sys.argv[0]).name, sys.argv[1:]
if role not in ("sbatch", "srun", "sacct", "squeue", "scancel"):
    role = args.pop(0)
if role == "sbatch":
    sbatch(args[-1])
elif role == "drive":
    drive(*args)
elif role == "srun":
    srun(args)
elif role == "sacct":
    sacct(args)
elif role == "squeue":
    print("JOBID STATE")
else:
    scancel(args)
'''

_FIRST_IDS = itertools.count(1000, 10_000)  # job ids unique in this process: submitit's watcher caches states by id


@pytest.fixture
def cluster(tmp_path, monkeypatch) -> Path:
    """A stand-in Slurm on PATH; returns its record folder."""
    bin_dir, root = tmp_path / "fake_bin", tmp_path / "fake_slurm"
    bin_dir.mkdir()
    root.mkdir()
    (root / "next_id").write_text(str(next(_FIRST_IDS)))
    main = bin_dir / "fake_slurm.py"
    main.write_text(f"#!{sys.executable}\n{FAKE_SLURM}")
    main.chmod(0o755)
    for name in ("sbatch", "srun", "sacct", "squeue", "scancel"):
        (bin_dir / name).symlink_to(main)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_DIR", str(root))
    for name in ("FAKE_SBATCH_FAIL", "FAKE_SLURM_CANCEL"):
        monkeypatch.delenv(name, raising=False)
    return root


