"""Where nthgrad's CMake package lives, for C++ users:

    cmake -Dnthgrad_DIR="$(python -m nthgrad --cmakedir)" ...
"""
from pathlib import Path


def get_cmake_dir():
    """The folder holding nthgradConfig.cmake."""
    return str(Path(__file__).resolve().parent / "lib" / "cmake" / "nthgrad")


def get_include():
    """The folder holding the C++ headers (nthgrad/nthgrad.h)."""
    return str(Path(__file__).resolve().parent / "include")
