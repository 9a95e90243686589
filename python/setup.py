"""Builds the panoptes Python package: libpanoptes with CMake (position-independent, no sanitizers,
in its own build folder, the CLI beside it), then the C extension panoptes._panoptes against it,
for the stable ABI (abi3, CPython 3.11 and later).

    pip install --no-build-isolation ./python      (PyPI not needed: Debian's python3-setuptools,
                                                    python3-wheel, python3-dev, python3-numpy)

Environment:
    PANOPTES_BUILD_DIR    the CMake build folder (default: <repository>/build-python)
    PANOPTES_CUDA         ON / OFF: the cuda backend (default: CMake's: on where nvcc is found)
    PANOPTES_CMAKE_ARGS   more CMake arguments
    CMAKE_BUILD_PARALLEL_LEVEL  compile jobs (default: all cores)
"""
import os
import re
import shlex
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
LIMITED_API = "0x030B0000"  # Python 3.11: the oldest CPython this module supports (Debian 12's)


def read_version():
    path = os.path.join(REPO, "include", "panoptes", "version.h")
    with open(path) as f:
        m = re.search(r'#define PAN_VERSION_STRING "([^"]+)"', f.read())
    if not m:
        sys.exit(f"setup.py: no PAN_VERSION_STRING in {path}")
    return m.group(1)


def pc_libs(pc_path, archive):
    """The link flags of the generated panoptes.pc, with the archive in place of -L${libdir} -lpanoptes
    (the library is static, so Libs lists everything it needs: FFmpeg, OpenBLAS, CUDA, ...)."""
    with open(pc_path) as f:
        for line in f:
            if line.startswith("Libs:"):
                flags = shlex.split(line[len("Libs:"):])
                return [archive] + [x for x in flags if x not in ("-L${libdir}", "-lpanoptes")]
    sys.exit(f"setup.py: {pc_path} has no Libs line")


class BuildWithLibrary(build_ext):
    """Builds libpanoptes (and the panoptes CLI, for comparisons) before the extension."""

    def run(self):
        if not os.path.isfile(os.path.join(REPO, "CMakeLists.txt")):
            sys.exit(f"setup.py: {REPO} is not the Panoptes repository (no CMakeLists.txt); build from a checkout")
        for tool in ("cmake",):
            if not shutil.which(tool):
                sys.exit(f"setup.py: {tool} not found; run scripts/setup.sh (Debian: apt-get install cmake ninja-build)")
        build = os.path.abspath(os.environ.get("PANOPTES_BUILD_DIR") or os.path.join(REPO, "build-python"))
        cfg = ["cmake", "-S", REPO, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DPANOPTES_PIC=ON",
               "-DPANOPTES_SANITIZE=OFF"]
        if not os.path.exists(os.path.join(build, "CMakeCache.txt")) and shutil.which("ninja"):
            cfg += ["-G", "Ninja"]
        if os.environ.get("PANOPTES_CUDA"):
            cfg.append("-DPANOPTES_CUDA=" + os.environ["PANOPTES_CUDA"])
        cfg += shlex.split(os.environ.get("PANOPTES_CMAKE_ARGS", ""))
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 2)
        print("setup.py: building libpanoptes in", build, flush=True)
        subprocess.check_call(cfg, stdout=subprocess.DEVNULL)
        subprocess.check_call(["cmake", "--build", build, "--target", "panoptes", "panoptes-cli", "-j", jobs])

        libs = pc_libs(os.path.join(build, "panoptes.pc"), os.path.join(build, "libpanoptes.a"))
        for ext in self.extensions:
            ext.include_dirs.append(os.path.join(REPO, "include"))
            ext.extra_objects = libs[:1]
            # the library's symbols stay inside the module (no clash with another copy in the process)
            ext.extra_link_args = libs[1:] + ["-Wl,--exclude-libs,ALL"]
            ext.depends.append(libs[0])

        # where the default model, the sample and the CLI of this build are (panoptes.find_asset)
        info_dir = os.path.join(HERE if self.inplace else self.build_lib, "panoptes")
        os.makedirs(info_dir, exist_ok=True)
        with open(os.path.join(info_dir, "_build_info.py"), "w") as f:
            f.write("# Written by setup.py: the checkout and the CMake build this package came from.\n")
            f.write(f"SOURCE_DIR = {REPO!r}\nBUILD_DIR = {build!r}\n")
            f.write(f"CLI = {os.path.join(build, 'panoptes')!r}\n")
        super().run()


setup(
    name="panoptes",
    version=read_version(),
    description="GPU-resident multi-camera video analytics (detection, tracking, identities) from Python",
    long_description="The Panoptes engine as a Python package: see the repository's README, section 'Python'.",
    license="see the repository",
    python_requires=">=3.11",
    install_requires=["numpy"],
    packages=["panoptes"],
    ext_modules=[
        Extension(
            "panoptes._panoptes",
            sources=[os.path.join("src", f) for f in ("module.c", "pipeline.c", "take.c", "frame_result.c", "results.c", "stats.c")],
            depends=[os.path.join("src", f) for f in ("ext.h", "pipeline_object.h", "results.h")],
            define_macros=[("Py_LIMITED_API", LIMITED_API)],
            py_limited_api=True,
            extra_compile_args=["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter",
                                "-Wno-missing-field-initializers", "-fvisibility=hidden"],
        )
    ],
    cmdclass={"build_ext": BuildWithLibrary},
    options={"bdist_wheel": {"py_limited_api": "cp311"}},
    zip_safe=False,
)
