/*
 * client.c: libcurl easy requests for the command line.
 */
#include "cli/client.h"
#include "util/buf.h"
#include "util/sse.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void client_init(struct client *c, const char *url, const char *key)
{
	memset(c, 0, sizeof(*c));
	c->url = url ? url : getenv("AGENTD_URL");
	if (!c->url || !*c->url)
		c->url = "http://127.0.0.1:8080";
	c->key = key ? key : getenv("AGENTD_KEY");
	if (!c->key)
		c->key = "";
}

static size_t collect(char *p, size_t sz, size_t nm, void *ud)
{
	struct buf *b = ud;
	return buf_append(b, p, sz * nm) ? 0 : sz * nm;
}

static struct curl_slist *headers(struct client *c, const char *extra)
{
	char h[600];
	snprintf(h, sizeof(h), "Authorization: Bearer %s", c->key);
	struct curl_slist *l = curl_slist_append(NULL, h);
	l = curl_slist_append(l, "Content-Type: application/json");
	if (extra)
		l = curl_slist_append(l, extra);
	return l;
}

long client_request(struct client *c, const char *method, const char *path, json_t *body,
		    const char *extra_header, json_t **out)
{
	*out = NULL;
	CURL *e = curl_easy_init();
	if (!e) {
		snprintf(c->err, sizeof(c->err), "cannot initialise libcurl");
		return 0;
	}
	char url[2048];
	snprintf(url, sizeof(url), "%s%s", c->url, path);
	struct buf resp;
	buf_init(&resp, 64u << 20);
	char *data = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct curl_slist *h = headers(c, extra_header);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	if (data)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, data);
	CURLcode rc = curl_easy_perform(e);
	long status = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	else
		snprintf(c->err, sizeof(c->err), "cannot reach %s: %s", c->url,
			 curl_easy_strerror(rc));
	if (resp.len)
		*out = json_loadb(resp.data, resp.len, 0, NULL);
	if (!*out && resp.len)
		*out = json_pack("{s:s%}", "detail", resp.data, resp.len);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	free(data);
	buf_free(&resp);
	return status;
}

struct stream_ctx {
	struct sse_parser p;
	int stopped;
};

static size_t on_stream(char *p, size_t sz, size_t nm, void *ud)
{
	struct stream_ctx *s = ud;
	if (sse_feed(&s->p, p, sz * nm)) {
		s->stopped = 1;
		return 0;
	}
	return sz * nm;
}

long client_stream(struct client *c, const char *path, client_event_fn fn, void *arg)
{
	CURL *e = curl_easy_init();
	if (!e)
		return 0;
	char url[2048];
	snprintf(url, sizeof(url), "%s%s", c->url, path);
	struct stream_ctx s = {0};
	sse_init(&s.p, 64u << 20, fn, arg);
	struct curl_slist *h = headers(c, "Accept: text/event-stream");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_stream);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	CURLcode rc = curl_easy_perform(e);
	long status = 0;
	if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && s.stopped))
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	else
		snprintf(c->err, sizeof(c->err), "cannot reach %s: %s", c->url,
			 curl_easy_strerror(rc));
	sse_free(&s.p);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	return status;
}

const char *client_error_text(json_t *body)
{
	const char *d = json_string_value(json_object_get(body, "detail"));
	if (!d)
		d = json_string_value(json_object_get(body, "error"));
	return d ? d : "no details";
}
