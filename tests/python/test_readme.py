"""README.md's "From Python" section runs as written: its Python block is
saved under the name its first line gives, and each command of its sh
block runs from a copy of the tree's top (python/ and examples/ linked)
and exits 0."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def section():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as source:
        text = source.read()
    start = text.index("## From Python")
    end = text.index("\n## ", start + 1)
    return text[start:end]


class ReadmeTest(unittest.TestCase):
    def test_the_from_python_section_runs_as_written(self):
        text = section()
        blocks = re.findall(r"```(\w+)\n(.*?)```", text, re.S)
        python = [body for kind, body in blocks if kind == "python"]
        commands = [line.split("  #")[0].strip() for kind, body in blocks if kind == "sh"
                    for line in body.splitlines() if line.strip()]
        self.assertEqual(len(python), 1)
        self.assertGreaterEqual(len(commands), 3)
        name = re.match(r"# (\S+\.py)", python[0]).group(1)
        work = tempfile.mkdtemp(prefix="ff-pyreadme-", dir="/tmp")
        try:
            for entry in ("python", "examples", "bin"):
                if os.path.exists(os.path.join(ROOT, entry)):
                    os.symlink(os.path.join(ROOT, entry), os.path.join(work, entry))
            with open(os.path.join(work, name), "w") as out:
                out.write(python[0])
            env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep
                       + os.environ.get("PATH", ""))
            for command in commands:
                done = subprocess.run(["bash", "-c", command], cwd=work, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, timeout=300)
                self.assertEqual(done.returncode, 0, "%s\n%s" % (command, done.stderr[-2000:]))
                if name in command:
                    self.assertIn("78 results, in order", done.stdout)
                if "--check" in command:
                    self.assertIn("identical, in order", done.stdout)
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
