"""What the beets generators of hostile passes 13 and 14 share: the test's beets environment
(tests/integrations/beets_plugin_test.py), their arguments and the line each case prints."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'integrations'))
from beets_plugin_test import Env, encode, write_beets_config  # noqa: E402,F401

# CLAPSEARCH_BINARY MODEL_DIR PLUGIN_DIR
binary, model, plugin_dir = (os.path.abspath(a) for a in sys.argv[1:4])


def show(name, done):
    tail = (done.stdout.strip().splitlines()[-2:] + done.stderr.strip().splitlines()[-2:])
    print(f'{name}: rc {done.returncode} {[l[:160] for l in tail]}', flush=True)
