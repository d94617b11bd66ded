# Turns the file IN into a C source OUT defining `const char models_json_data[]`.
file(READ ${IN} content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
file(WRITE ${OUT} "/* generated from data/models.json */\n#include <stddef.h>\nconst char models_json_data[] = {${bytes}0x00};\nconst size_t models_json_data_len = sizeof models_json_data - 1;\n")
