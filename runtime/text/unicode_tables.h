/* The Unicode classes GPT-2's pre-tokenizer needs. The tables behind these
 * are generated: see tools/gen_unicode_tables.py. */
#ifndef VKL_TEXT_UNICODE_TABLES_H
#define VKL_TEXT_UNICODE_TABLES_H

#include <stdbool.h>
#include <stdint.h>

/* \p{L}: general category Lu, Ll, Lt, Lm or Lo. */
bool vkl_unicode_is_letter(uint32_t cp);

/* \p{N}: general category Nd, Nl or No. */
bool vkl_unicode_is_number(uint32_t cp);

/* \s: the White_Space property. */
bool vkl_unicode_is_space(uint32_t cp);

#endif
