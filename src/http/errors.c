/*
 * errors.c: the status-text table and the error body renderers shared by dialects
 * (RFC 7807 problem+json for the native API). Pure functions, any thread.
 */
#include "http/http.h"
#include "util/buf.h"

static const struct {
	int status;
	const char *text;
} status_texts[] = {
	{200, "OK"},
	{201, "Created"},
	{202, "Accepted"},
	{204, "No Content"},
	{400, "Bad Request"},
	{401, "Unauthorized"},
	{403, "Forbidden"},
	{404, "Not Found"},
	{405, "Method Not Allowed"},
	{406, "Not Acceptable"},
	{408, "Request Timeout"},
	{409, "Conflict"},
	{410, "Gone"},
	{413, "Content Too Large"},
	{414, "URI Too Long"},
	{415, "Unsupported Media Type"},
	{422, "Unprocessable Content"},
	{429, "Too Many Requests"},
	{431, "Request Header Fields Too Large"},
	{500, "Internal Server Error"},
	{502, "Bad Gateway"},
	{503, "Service Unavailable"},
	{504, "Gateway Timeout"},
};

const char *http_status_text(int status)
{
	for (size_t i = 0; i < sizeof(status_texts) / sizeof(status_texts[0]); i++)
		if (status_texts[i].status == status)
			return status_texts[i].text;
	return status < 500 ? "Client Error" : "Server Error";
}

void http_render_problem(int status, const char *code, const char *message,
			 const char *instance, struct buf *out, const char **content_type)
{
	buf_puts(out, "{\"type\":");
	buf_printf(out, "\"urn:agentd:error:%s\"", code);
	buf_puts(out, ",\"title\":");
	buf_json_str(out, http_status_text(status));
	buf_printf(out, ",\"status\":%d,\"detail\":", status);
	buf_json_str(out, message);
	buf_puts(out, ",\"instance\":");
	buf_json_str(out, instance);
	buf_puts(out, ",\"code\":");
	buf_json_str(out, code);
	buf_puts(out, "}");
	*content_type = "application/problem+json";
}

void http_render_error_string(int status, const char *code, const char *message,
			      const char *instance, struct buf *out, const char **content_type)
{
	(void)status;
	(void)code;
	(void)instance;
	buf_puts(out, "{\"error\":");
	buf_json_str(out, message);
	buf_puts(out, "}");
	*content_type = "application/json";
}
