# Turns the file IN into a C source OUT defining `const char nyx_models_json[]`.
file(READ ${IN} content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
file(WRITE ${OUT} "/* generated from data/models.json */\n#include <stddef.h>\nconst char nyx_models_json[] = {${bytes}0x00};\nconst size_t nyx_models_json_len = sizeof nyx_models_json - 1;\n")
