/* The movers a build offers, best first, and the lookups in it. CMake
 * names the system's own mover (ZC_SYSTEM_MOVER), where it has one; the
 * read/write copy follows it on every Unix, and the loop falls back along
 * this list when a mover refuses a flow. */
#include "../flow.h"

#include <string.h>

#ifdef ZC_SYSTEM_MOVER
extern const zc_mover ZC_SYSTEM_MOVER;
#endif
extern const zc_mover zc_mover_readwrite;

const zc_mover *const zc_movers[] = {
#ifdef ZC_SYSTEM_MOVER
    &ZC_SYSTEM_MOVER,
#endif
    &zc_mover_readwrite,
    0,
};

const zc_mover *zc_find_mover(const char *name) {
  for (const zc_mover *const *m = zc_movers; *m; m++)
    if (strcmp((*m)->name, name) == 0) return *m;
  return NULL;
}

const zc_mover *zc_pick_mover(enum zc_input_kind in, enum zc_output_kind out) {
  for (const zc_mover *const *m = zc_movers; *m; m++)
    if (((*m)->inputs & ZC_INPUT(in)) && ((*m)->outputs & ZC_OUTPUT(out))) return *m;
  return NULL;
}
