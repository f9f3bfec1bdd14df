# Fails when the assembly in ASM (one or more files, ';'-separated) has a ZA vector-group
# operand whose index register was encoded as an immediate (see test/CMakeLists.txt).
set(found)
foreach(file IN LISTS ASM)
  file(STRINGS "${file}" lines REGEX "za\\.[bhsdq]\\[#")
  foreach(line IN LISTS lines)
    string(STRIP "${line}" line)
    list(APPEND found "${file}: ${line}")
  endforeach()
endforeach()
list(LENGTH found count)
if(count GREATER 0)
  list(JOIN found "\n" text)
  message(FATAL_ERROR "${count} ZA operands index ZA by an immediate where a register belongs "
                      "(the instruction reads W8): use sme2::za_slice()\n${text}")
endif()
message(STATUS "ZA vector-group operands all index by a register")
