/*
 * asan_swift_stub.c
 *		Lets AddressSanitizer start inside Debian's postgres binary.
 *
 * With libasan preloaded into an executable that was not built with it,
 * ASan initializes at the first intercepted call.  In postgres that call is
 * a malloc inside bindtextdomain, made by libgpg-error's constructor while
 * glibc's _nl_state_lock is held for writing.  ASan's initialization then
 * looks up the optional symbol swift_demangle, and the failed lookup makes
 * dlerror translate its message, which takes the same lock: the process
 * hangs.  Defining the symbol makes the lookup succeed without dlerror.
 *
 * scripts/test.sh preloads this after libasan.  ASan calls it only to
 * demangle Swift names, and NULL means "not demangled".
 */
#include <stddef.h>

char	   *swift_demangle(const char *name, size_t name_len, char *out,
						   size_t *out_len, unsigned flags);

char *
swift_demangle(const char *name, size_t name_len, char *out, size_t *out_len,
			   unsigned flags)
{
	(void) name;
	(void) name_len;
	(void) out;
	(void) out_len;
	(void) flags;
	return NULL;
}
