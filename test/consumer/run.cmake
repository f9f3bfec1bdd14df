# ctest driver: builds test/consumer against sme2k and runs it.
#   -DMODE=installed|subdirectory -DSME2K_SOURCE=<repo> -DSME2K_BINARY=<sme2k build dir>
#   -DWORK=<scratch dir> [-DTOOLCHAIN=<file>] [-DCXX=<compiler> -DCC=<compiler>]
#   [-DEMULATOR=<qemu>] [-DC_FLAGS=... -DCXX_FLAGS=... -DLINKER_FLAGS=...]
file(REMOVE_RECURSE "${WORK}")
set(configure_args -S "${SME2K_SOURCE}/test/consumer" -B "${WORK}/build" -G Ninja
    -DCMAKE_BUILD_TYPE=Release)
if(TOOLCHAIN)
  list(APPEND configure_args "-DCMAKE_TOOLCHAIN_FILE=${TOOLCHAIN}")
elseif(CXX)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX}" "-DCMAKE_C_COMPILER=${CC}")
endif()
list(APPEND configure_args "-DCMAKE_C_FLAGS=${C_FLAGS}" "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
     "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}")
if(MODE STREQUAL "installed")
  execute_process(COMMAND "${CMAKE_COMMAND}" --install "${SME2K_BINARY}" --prefix "${WORK}/prefix"
                  RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "cmake --install failed")
  endif()
  list(APPEND configure_args "-DCMAKE_PREFIX_PATH=${WORK}/prefix")
else()
  list(APPEND configure_args "-DSME2K_SOURCE_DIR=${SME2K_SOURCE}")
endif()
foreach(step IN ITEMS configure build run)
  if(step STREQUAL "configure")
    set(command "${CMAKE_COMMAND}" ${configure_args})
  elseif(step STREQUAL "build")
    set(command "${CMAKE_COMMAND}" --build "${WORK}/build")
  else()
    set(command ${EMULATOR} "${WORK}/build/consumer")
  endif()
  execute_process(COMMAND ${command} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "consumer ${step} failed (${rc})")
  endif()
endforeach()
# The C programs, against the static and the shared C library.
foreach(program IN ITEMS consumer_c consumer_c_shared)
  execute_process(COMMAND ${EMULATOR} "${WORK}/build/${program}" RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "${program} failed (${rc})")
  endif()
endforeach()
