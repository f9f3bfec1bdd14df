# ctest driver for the vendoring example (not part of it): builds it as a separate project with
# the sme2k build's compiler, toolchain file and flags, or runs what was built.
#   -DSTEP=build -DSOURCE=<examples/vendoring> -DINCLUDE=<sme2k include/> -DWORK=<scratch dir>
#     [-DGENERATOR=... -DMAKE_PROGRAM=... -DBUILD_TYPE=...] [-DTOOLCHAIN=<file>]
#     [-DCXX=<compiler>] [-DCXX_FLAGS=... -DLINKER_FLAGS=...] [-DTOOLCHAIN_ARGS=<-D...;...>]
#   -DSTEP=run -DWORK=<scratch dir> -DEXPECT_PATH=sme2|portable [-DEMULATOR=<qemu>]
if(STEP STREQUAL "build")
  file(REMOVE_RECURSE "${WORK}")
  set(args -S "${SOURCE}" -B "${WORK}" "-DSME2K_INCLUDE_DIR=${INCLUDE}"
      "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}" "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
      "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}")
  if(GENERATOR)
    list(APPEND args -G "${GENERATOR}")
  endif()
  if(MAKE_PROGRAM)
    list(APPEND args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
  endif()
  if(TOOLCHAIN)
    list(APPEND args "-DCMAKE_TOOLCHAIN_FILE=${TOOLCHAIN}" ${TOOLCHAIN_ARGS})
  elseif(CXX)
    list(APPEND args "-DCMAKE_CXX_COMPILER=${CXX}")
  endif()
  foreach(command IN ITEMS configure build)
    if(command STREQUAL "configure")
      execute_process(COMMAND "${CMAKE_COMMAND}" ${args} RESULT_VARIABLE rc)
    else()
      execute_process(COMMAND "${CMAKE_COMMAND}" --build "${WORK}" RESULT_VARIABLE rc)
    endif()
    if(rc)
      message(FATAL_ERROR "vendoring example: ${command} failed (${rc})")
    endif()
  endforeach()
elseif(STEP STREQUAL "run")
  # The example checks its own results; this also checks that dispatch took the path the
  # configuration implies (QEMU_CPU, from the test's environment).
  execute_process(COMMAND ${EMULATOR} "${WORK}/vendoring" RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out ERROR_VARIABLE out)
  message("${out}")
  if(rc)
    message(FATAL_ERROR "vendoring example failed (${rc})")
  endif()
  if(NOT out MATCHES ": ${EXPECT_PATH} path")
    message(FATAL_ERROR "vendoring example: expected the ${EXPECT_PATH} path")
  endif()
else()
  message(FATAL_ERROR "STEP must be build or run")
endif()
