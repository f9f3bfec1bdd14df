# ctest driver (host): the README's install commands, as written, in a fresh build folder.
#   -DSME2K_SOURCE=<repo> -DWORK=<scratch dir>
# Takes the shell lines from the README (the `cmake -S . -B build` line of "CMake, installed",
# and the two `cc my_runtime.c` lines of the C API section), replaces only the folder names
# (build -> WORK/build, /opt/sme2k -> WORK/prefix, my_runtime.c -> test/consumer/main.c) and
# runs them from the source folder with sh. Then test/consumer (the C++ header-only consumer,
# and C programs on sme2k::c and sme2k::c_shared) builds against the installed package.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
file(STRINGS "${SME2K_SOURCE}/README.md" readme)

function(readme_line prefix out)
  foreach(line IN LISTS readme)
    if(line MATCHES "^${prefix}")
      list(APPEND found "${line}")
    endif()
  endforeach()
  if(NOT found)
    message(FATAL_ERROR "README.md has no line starting with '${prefix}'")
  endif()
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

function(run_literally line)
  string(REPLACE "/opt/sme2k" "${WORK}/prefix" line "${line}")
  string(REGEX REPLACE "(^| )build( |$)" "\\1${WORK}/build\\2" line "${line}")
  string(REGEX REPLACE "(^| )build( |$)" "\\1${WORK}/build\\2" line "${line}")
  string(REPLACE "my_runtime.c" "${SME2K_SOURCE}/test/consumer/main.c" line "${line}")
  string(REPLACE "-o my_runtime" "-o ${WORK}/c_program" line "${line}")
  message(STATUS "README: ${line}")
  execute_process(COMMAND sh -c "${line}" WORKING_DIRECTORY "${SME2K_SOURCE}" RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "the README's command failed (${rc}): ${line}")
  endif()
endfunction()

readme_line("cmake -S \\. -B build" install_lines)
list(LENGTH install_lines count)
if(NOT count EQUAL 1)
  message(FATAL_ERROR "expected one install line in README.md, found ${count}")
endif()
# The install step alone, before the build, must refuse (and install nothing).
string(REGEX REPLACE " && .*" "" configure_only "${install_lines}")
string(REPLACE "-B build" "-B ${WORK}/early" configure_only "${configure_only}")
execute_process(COMMAND sh -c "${configure_only}" WORKING_DIRECTORY "${SME2K_SOURCE}"
                OUTPUT_QUIET RESULT_VARIABLE rc)
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${WORK}/early" --prefix "${WORK}/early_prefix"
                RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(NOT rc OR EXISTS "${WORK}/early_prefix")
  message(FATAL_ERROR "cmake --install before cmake --build did not refuse cleanly (${rc})")
endif()
if(NOT err MATCHES "before")
  message(FATAL_ERROR "cmake --install before the build: no clear message: ${err}")
endif()
file(REMOVE_RECURSE "${WORK}/early")

run_literally("${install_lines}")

# The package: C++ header-only consumer and the two C libraries, through CMake.
foreach(step IN ITEMS configure build)
  if(step STREQUAL "configure")
    set(command "${CMAKE_COMMAND}" -S "${SME2K_SOURCE}/test/consumer" -B "${WORK}/consumer"
        "-DCMAKE_PREFIX_PATH=${WORK}/prefix")
  else()
    set(command "${CMAKE_COMMAND}" --build "${WORK}/consumer")
  endif()
  execute_process(COMMAND ${command} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "consumer ${step} failed (${rc})")
  endif()
endforeach()
foreach(program IN ITEMS consumer consumer_c consumer_c_shared)
  execute_process(COMMAND "${WORK}/consumer/${program}" RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "${program} failed (${rc})")
  endif()
endforeach()

# The C API section's plain link lines (static, then shared), each built and run.
readme_line("cc my_runtime\\.c" link_lines)
list(LENGTH link_lines count)
if(NOT count EQUAL 2)
  message(FATAL_ERROR "expected the static and the shared link line in README.md, found ${count}")
endif()
foreach(line IN LISTS link_lines)
  file(REMOVE "${WORK}/c_program")
  run_literally("${line}")
  execute_process(COMMAND "${WORK}/c_program" RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "the program linked by '${line}' failed (${rc})")
  endif()
endforeach()
