# Registers a test binary in every configuration it must pass:
#  - cross builds: under QEMU at SVL 128, 256, 512, 1024 and 2048 bits, at SVL 512 without
#    FEAT_SME_FA64 (as Apple M4), and without SME at all (the portable path);
#  - native builds: once (the portable path; the host preset adds ASan + UBSan).
# Each run is told what it must observe (SME2K_EXPECT_PATH, SME2K_EXPECT_SVL), so a test can
# assert that dispatch took the path the configuration implies instead of trusting it.

# name | QEMU -cpu | expected path | expected SVL bits (0: no SME)
# "max" alone defaults to SVL 256 and, unlike smeNNN=on, lets a thread change its SVL with
# prctl(PR_SME_SET_VL): the test of weights packed for another SVL needs that.
set(SME2K_EMULATED_CONFIGS
  "svl128|max,sme128=on|sme2|128"
  "svl256|max|sme2|256"
  "svl512|max,sme512=on|sme2|512"
  "svl1024|max,sme1024=on|sme2|1024"
  "svl2048|max,sme2048=on|sme2|2048"
  "nofa64|max,sme512=on,sme_fa64=off|sme2|512"
  "nosme|max,sme=off|portable|0")

function(sme2k_add_test target)
  if(CMAKE_CROSSCOMPILING)
    foreach(config IN LISTS SME2K_EMULATED_CONFIGS)
      string(REPLACE "|" ";" fields "${config}")
      list(GET fields 0 name)
      list(GET fields 1 cpu)
      list(GET fields 2 path)
      list(GET fields 3 svl)
      add_test(NAME ${target}.${name} COMMAND ${target} ${ARGN})
      set_tests_properties(${target}.${name} PROPERTIES
        LABELS "emulated;${name}"
        ENVIRONMENT "QEMU_CPU=${cpu};SME2K_EXPECT_PATH=${path};SME2K_EXPECT_SVL=${svl}")
    endforeach()
  else()
    add_test(NAME ${target}.host COMMAND ${target} ${ARGN})
    set_tests_properties(${target}.host PROPERTIES
      LABELS "host" ENVIRONMENT "SME2K_EXPECT_PATH=portable;SME2K_EXPECT_SVL=0")
  endif()
endfunction()
