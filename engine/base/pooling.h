/* Whether memory let go is kept for its next user (the idle calls of core/call.c, the idle
 * buffers of textbuf.h). Not under AddressSanitizer: a stale pointer into memory kept and handed
 * out again lands in a live object, a use after free it cannot see; freed, it reports it. */
#ifndef NYX_BASE_POOLING_H
#define NYX_BASE_POOLING_H

#if defined(__SANITIZE_ADDRESS__) /* gcc */
#define NYX_POOLING 0
#elif defined(__has_feature) /* clang */
#if __has_feature(address_sanitizer)
#define NYX_POOLING 0
#endif
#endif
#ifndef NYX_POOLING
#define NYX_POOLING 1
#endif

#endif
