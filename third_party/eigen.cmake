# Finds Eigen3 from the PyPI package cmeel-eigen (a build requirement) or,
# failing that, from the system (Debian libeigen3-dev). No Eigen source lives
# in this tree.
#
# cmeel-eigen installs its CMake config under <site-packages>/cmeel.prefix,
# which find_package does not search by itself (notably under pip's build
# isolation), so we ask the interpreter where the `cmeel` module lives.
if(Python_EXECUTABLE)
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c
      "import cmeel, pathlib; print(pathlib.Path(cmeel.__file__).resolve().parent.parent / 'cmeel.prefix')"
    OUTPUT_VARIABLE _nthgrad_cmeel_prefix
    OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _nthgrad_cmeel_result
    ERROR_QUIET)
  if(_nthgrad_cmeel_result EQUAL 0 AND EXISTS "${_nthgrad_cmeel_prefix}")
    list(APPEND CMAKE_PREFIX_PATH "${_nthgrad_cmeel_prefix}")
  endif()
endif()
# 3.4: kernels/cpu/gemm.cpp calls the blocked GEMM kernel of the 3.4 series (general_matrix_matrix_product).
find_package(Eigen3 3.4 REQUIRED CONFIG)
message(STATUS "nthgrad: Eigen ${Eigen3_VERSION} from ${Eigen3_DIR}")
