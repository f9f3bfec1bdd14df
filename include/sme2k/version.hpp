// sme2k version: stated here once; CMakeLists.txt reads it from this file.
#pragma once

#define SME2K_VERSION_MAJOR 0
#define SME2K_VERSION_MINOR 1
#define SME2K_VERSION_PATCH 0
