/* error.c - status codes, the single raise function and the thread-local error slot.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "xb_base.h"

#include <stdio.h>
#include <string.h>

#include <gsl/gsl_errno.h>

static _Thread_local xb_err tls_err;

static xb_err *slot(xb_err *err)
{
	return err ? err : &tls_err;
}

xb_status xb_vraise(xb_err *err, xb_status code, const char *fmt, va_list ap)
{
	xb_err *e = slot(err);

	e->code = code;
	if (fmt)
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	else
		snprintf(e->msg, sizeof e->msg, "%s", xb_strerror(code));
	return code;
}

xb_status xb_raise(xb_err *err, xb_status code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	xb_vraise(err, code, fmt, ap);
	va_end(ap);
	return code;
}

xb_status xb_err_context(xb_err *err, const char *fmt, ...)
{
	xb_err *e = slot(err);
	char buf[XB_ERRMSG_MAX];
	size_t pl, ol = strlen(e->msg);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf - 2, fmt, ap);
	va_end(ap);
	strcat(buf, ": ");
	pl = strlen(buf);
	/* Prefix, then as much of the old message as fits. */
	if (pl + ol >= sizeof e->msg)
		ol = sizeof e->msg - 1 - pl;
	memmove(e->msg + pl, e->msg, ol);
	memcpy(e->msg, buf, pl);
	e->msg[pl + ol] = '\0';
	return e->code;
}

xb_status xb_err_copy(xb_err *dst, const xb_err *src)
{
	const xb_err *s = src ? src : &tls_err;
	xb_err *d = slot(dst);

	if (d != s)
		memcpy(d, s, sizeof *d);
	return d->code;
}

const char *xb_errmsg(const xb_err *err)
{
	return err ? err->msg : tls_err.msg;
}

void xb_err_clear(xb_err *err)
{
	xb_err *e = slot(err);

	e->code = XB_OK;
	e->msg[0] = '\0';
}

const char *xb_strerror(xb_status code)
{
	switch (code) {
	case XB_OK: return "success";
	case XB_EINVAL: return "invalid argument";
	case XB_ENOMEM: return "out of memory";
	case XB_ECONFIG: return "configuration error";
	case XB_ENOENT: return "not found";
	case XB_EIO: return "input/output error";
	case XB_EFORMAT: return "malformed file";
	case XB_ESTATE: return "call not allowed in this state";
	case XB_ERANGE: return "value out of range";
	case XB_ENUMERIC: return "numerical failure";
	case XB_EUNSUPPORTED: return "not supported";
	case XB_EKERNEL: return "simulation kernel error";
	case XB_EINTERNAL: return "internal error";
	}
	return "unknown status";
}

void xb_gsl_quiet(void)
{
	gsl_set_error_handler_off();
}
