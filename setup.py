"""The one build step pyproject.toml cannot declare: templates/, boards/ and the demo model stay top-level
folders of the repository, and ship inside the wheel as tinyattend/_data/ (read by tinyattend.resources).
An editable install (`pip install -e .`) copies nothing: it reads the repository's folders."""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# folder -> the files of it the wheel carries
PACKAGE_DATA = {"templates": "**/*", "boards": "*.yaml", "models": "attendnext_digits*"}


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for folder, pattern in PACKAGE_DATA.items():
            for source in sorted((ROOT / folder).glob(pattern)):
                if source.is_file() and "__pycache__" not in source.parts:
                    target = Path(self.build_lib) / "tinyattend" / "_data" / source.relative_to(ROOT)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    self.copy_file(str(source), str(target))


setup(cmdclass={"build_py": BuildPyWithData})
