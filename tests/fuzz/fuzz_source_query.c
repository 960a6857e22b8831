/* libFuzzer target: everything a client controls in a request to
 * userstream-source. The input is a request target ("path?query", any
 * bytes); it goes through the qs parser, upstream's sanitising in both quirk
 * modes, and src_api_handle, which routes it and writes the body in the
 * asked format (kept to small result counts so runs stay fast). */
#include "src_api.h"
#include "src_qs.h"
#include "src_request.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static src_api *api;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    src_api_config c = {.quirks = true, .now_ms = 1795478400000LL, .rate_window_ms = 1000};
    api = src_api_new(&c, err, sizeof err);
    return api ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *target = malloc(size + 1);
    if (!target)
        return 0;
    memcpy(target, data, size);
    target[size] = '\0';
    const char *q = memchr(target, '?', size);
    size_t path_n = q ? (size_t)(q - target) : size;
    const char *query = q ? q + 1 : "";
    size_t query_n = q ? size - path_n - 1 : 0;

    src_qs qs;
    src_request rq;
    int small = 0;
    if (src_qs_parse(&qs, query, query_n) == 0) {
        src_request_from_qs(&rq, &qs, false);
        src_request_from_qs(&rq, &qs, true);
        small = rq.results <= 20;
        src_qs_free(&qs);
    }
    if (small) {
        src_http_request req = {.method = size % 2 ? "GET" : "HEAD",
                                .path = target,
                                .path_n = path_n,
                                .query = query,
                                .query_n = query_n,
                                .client = "127.0.0.1"};
        src_response resp;
        src_api_handle(api, &req, &resp);
        src_response_free(&resp);
    }
    free(target);
    return 0;
}
