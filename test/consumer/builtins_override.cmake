# ctest driver (cross builds): -DSME2K_AARCH64_BUILTINS=... given to a configure reaches
# CMake's compiler check (a try_compile project, which re-reads the toolchain file without
# the caller's cache). A path that does not exist must fail the check; a copy of the archive
# elsewhere must pass it.   -DSME2K_SOURCE=<repo> -DWORK=<scratch> -DTOOLCHAIN=<file>
#   -DBUILTINS=<the archive the build uses>
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/copy")
file(COPY "${BUILTINS}" DESTINATION "${WORK}/copy")
get_filename_component(name "${BUILTINS}" NAME)
foreach(case IN ITEMS missing copy)
  if(case STREQUAL "missing")
    set(archive "${WORK}/missing/${name}")
  else()
    set(archive "${WORK}/copy/${name}")
  endif()
  execute_process(
    COMMAND "${CMAKE_COMMAND}" -S "${SME2K_SOURCE}/test/consumer" -B "${WORK}/${case}_build"
            -G Ninja "-DCMAKE_TOOLCHAIN_FILE=${TOOLCHAIN}" "-DSME2K_AARCH64_BUILTINS=${archive}"
            -DSME2K_SOURCE_DIR=${SME2K_SOURCE}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(case STREQUAL "missing" AND (NOT rc OR NOT out MATCHES "${WORK}/missing"))
    message(FATAL_ERROR "a missing SME2K_AARCH64_BUILTINS did not reach the compiler check:\n${out}")
  endif()
  if(case STREQUAL "copy" AND rc)
    message(FATAL_ERROR "SME2K_AARCH64_BUILTINS=${archive} failed the configure:\n${out}")
  endif()
endforeach()
