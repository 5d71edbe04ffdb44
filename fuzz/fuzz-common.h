/* fuzz-common.h: what the decoder fuzz target and its seed-corpus
 * generator must agree on, so that signed seeds verify in the target. */
#ifndef PEKO_FUZZ_COMMON_H
#define PEKO_FUZZ_COMMON_H

/* The largest packet either accepts: pekonode's default Size. */
#define FUZZ_MAX_BYTES 16384
/* The key of the keyed keyring; seeds named signed-* are signed with it. */
#define FUZZ_KEY "fuzz-secret"

#endif /* PEKO_FUZZ_COMMON_H */
