/* con_avro_diff: the structural diff of two Avro record schemas shown by
 * the registry page (see con_avro_schema_diff in con_avro.h). Field types
 * are compared after a light normalisation, so "string" and
 * {"type":"string"} are the same type, while a changed logicalType, union
 * order or nested field is a change. */
#include "con_avro.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* {"type":"prim"} with nothing else -> "prim", recursively inside unions. */
static json_t *normalise(json_t *t)
{
    if (json_is_object(t) && json_object_size(t) == 1 && json_is_string(json_object_get(t, "type")))
        return json_incref(json_object_get(t, "type"));
    if (json_is_array(t)) {
        json_t *out = json_array();
        for (size_t i = 0; out && i < json_array_size(t); i++)
            json_array_append_new(out, normalise(json_array_get(t, i)));
        return out;
    }
    return json_deep_copy(t);
}

static bool same_type(json_t *a, json_t *b)
{
    json_t *na = normalise(a), *nb = normalise(b);
    bool same = na && nb && json_equal(na, nb);
    json_decref(na);
    json_decref(nb);
    return same;
}

static json_t *field_named(json_t *fields, const char *name)
{
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *f = json_array_get(fields, i);
        const char *n = json_string_value(json_object_get(f, "name"));
        if (n && strcmp(n, name) == 0)
            return f;
    }
    return NULL;
}

static json_t *field_entry(json_t *f)
{
    json_t *e = json_pack("{s:O,s:O}", "name", json_object_get(f, "name"), "type",
                          json_object_get(f, "type") ? json_object_get(f, "type") : json_null());
    if (e && json_object_get(f, "default"))
        json_object_set(e, "default", json_object_get(f, "default"));
    return e;
}

static json_t *change_entry(const char *name, json_t *of, json_t *nf)
{
    json_t *od = json_object_get(of, "default"), *nd = json_object_get(nf, "default");
    bool type_changed = !same_type(json_object_get(of, "type"), json_object_get(nf, "type"));
    bool default_changed = (od == NULL) != (nd == NULL) || (od && !json_equal(od, nd));
    if (!type_changed && !default_changed)
        return NULL;
    json_t *what = json_array();
    if (type_changed)
        json_array_append_new(what, json_string("type"));
    if (default_changed)
        json_array_append_new(what, json_string("default"));
    json_t *e =
        json_pack("{s:s,s:O,s:O,s:o}", "name", name, "old_type", json_object_get(of, "type"),
                  "new_type", json_object_get(nf, "type"), "what", what);
    if (e && od)
        json_object_set(e, "old_default", od);
    if (e && nd)
        json_object_set(e, "new_default", nd);
    return e;
}

static bool is_record(json_t *s)
{
    const char *t = json_string_value(json_object_get(s, "type"));
    return t && strcmp(t, "record") == 0 && json_is_array(json_object_get(s, "fields"));
}

static int check_fields(json_t *fields, char *err, size_t errlen)
{
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *f = json_array_get(fields, i);
        if (!json_is_string(json_object_get(f, "name"))) {
            snprintf(err, errlen, "field %zu has no name", i);
            return -1;
        }
    }
    return 0;
}

static json_t *diff_records(json_t *o, json_t *n, json_t *out)
{
    json_t *of = json_object_get(o, "fields"), *nf = json_object_get(n, "fields");
    json_t *added = json_object_get(out, "added"), *removed = json_object_get(out, "removed");
    json_t *changed = json_object_get(out, "changed"), *same = json_object_get(out, "unchanged");
    for (size_t i = 0; i < json_array_size(of); i++) {
        json_t *f = json_array_get(of, i);
        const char *name = json_string_value(json_object_get(f, "name"));
        json_t *g = field_named(nf, name);
        json_t *c = g ? change_entry(name, f, g) : NULL;
        if (!g)
            json_array_append_new(removed, field_entry(f));
        else if (c)
            json_array_append_new(changed, c);
        else
            json_array_append_new(same, json_string(name));
    }
    for (size_t i = 0; i < json_array_size(nf); i++) {
        json_t *g = json_array_get(nf, i);
        if (!field_named(of, json_string_value(json_object_get(g, "name"))))
            json_array_append_new(added, field_entry(g));
    }
    return out;
}

static json_t *record_name(json_t *s)
{
    const char *name = json_string_value(json_object_get(s, "name"));
    const char *ns = json_string_value(json_object_get(s, "namespace"));
    if (!name)
        return json_null();
    if (!ns || !*ns || strchr(name, '.'))
        return json_string(name);
    char buf[512];
    snprintf(buf, sizeof(buf), "%s.%s", ns, name);
    return json_string(buf);
}

static json_t *diff_parsed(json_t *o, json_t *n, char *err, size_t errlen)
{
    json_t *out = json_pack("{s:o,s:o,s:[],s:[],s:[],s:[]}", "old_name", record_name(o), "new_name",
                            record_name(n), "added", "removed", "changed", "unchanged");
    if (!out) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (is_record(o) && is_record(n)) {
        if (check_fields(json_object_get(o, "fields"), err, errlen) < 0 ||
            check_fields(json_object_get(n, "fields"), err, errlen) < 0) {
            json_decref(out);
            return NULL;
        }
        diff_records(o, n, out);
    } else if (!same_type(o, n)) {
        json_array_append_new(json_object_get(out, "changed"),
                              json_pack("{s:s,s:O,s:O,s:[s]}", "name", "", "old_type", o,
                                        "new_type", n, "what", "type"));
    }
    bool identical = json_array_size(json_object_get(out, "added")) == 0 &&
                     json_array_size(json_object_get(out, "removed")) == 0 &&
                     json_array_size(json_object_get(out, "changed")) == 0;
    json_object_set_new(out, "identical", json_boolean(identical));
    return out;
}

json_t *con_avro_schema_diff(const char *old_json, const char *new_json, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *o = json_loads(old_json ? old_json : "", JSON_DECODE_ANY, &jerr);
    if (!o) {
        snprintf(err, errlen, "old schema is not JSON: %s", jerr.text);
        return NULL;
    }
    json_t *n = json_loads(new_json ? new_json : "", JSON_DECODE_ANY, &jerr);
    if (!n) {
        snprintf(err, errlen, "new schema is not JSON: %s", jerr.text);
        json_decref(o);
        return NULL;
    }
    json_t *out = diff_parsed(o, n, err, errlen);
    json_decref(o);
    json_decref(n);
    return out;
}
