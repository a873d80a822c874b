#ifndef AS_VERSION_H
#define AS_VERSION_H
#define AS_PACKAGE_NAME    "mod_activesync"
#define AS_PACKAGE_VERSION "0.1.0"
#endif
