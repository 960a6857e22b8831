/* con_kafka_admin: topic configurations, log sizes and consumer groups,
 * through librdkafka's admin API (2.0.2: DescribeConfigs,
 * ListConsumerGroups, DescribeConsumerGroups, ListConsumerGroupOffsets).
 * See con_kafka.h. */
#include "con_kafka_int.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ADMIN_MAX_GROUPS 500

static rd_kafka_AdminOptions_t *admin_options(const con_kafka *k, rd_kafka_admin_op_t op)
{
    char e[128];
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(k->rk, op);
    if (o)
        rd_kafka_AdminOptions_set_request_timeout(o, k->timeout_ms, e, sizeof(e));
    return o;
}

/* Runs DescribeConfigs for the given resources; NULL with a reason. */
static rd_kafka_event_t *describe_configs(con_kafka *k, rd_kafka_ConfigResource_t **res, size_t n,
                                          char *err, size_t errlen)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->rk);
    rd_kafka_AdminOptions_t *o = admin_options(k, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_DescribeConfigs(k->rk, res, n, o, q);
    rd_kafka_event_t *ev = con_kafka_admin_wait(k, q, err, errlen);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    return ev;
}

/* Every non-sensitive entry as name -> value (null when unset). */
static json_t *config_entries(const rd_kafka_ConfigResource_t *r)
{
    size_t n;
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(r, &n);
    json_t *cfg = json_object();
    for (size_t i = 0; cfg && i < n; i++) {
        const char *v = rd_kafka_ConfigEntry_value(entries[i]);
        if (rd_kafka_ConfigEntry_is_sensitive(entries[i]))
            continue;
        json_object_set_new(cfg, rd_kafka_ConfigEntry_name(entries[i]),
                            v ? json_string(v) : json_null());
    }
    return cfg;
}

static json_t *topic_named(json_t *topics, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(topics, i, t)
    {
        if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0)
            return t;
    }
    return NULL;
}

static void set_configs(json_t *topics, const rd_kafka_event_t *ev)
{
    size_t n;
    const rd_kafka_DescribeConfigs_result_t *res =
        rd_kafka_event_DescribeConfigs_result((rd_kafka_event_t *)ev);
    const rd_kafka_ConfigResource_t **rs =
        res ? rd_kafka_DescribeConfigs_result_resources(res, &n) : NULL;
    for (size_t i = 0; rs && i < n; i++) {
        json_t *t = topic_named(topics, rd_kafka_ConfigResource_name(rs[i]));
        if (!t)
            continue;
        if (rd_kafka_ConfigResource_error(rs[i]))
            json_object_set_new(t, "config_error",
                                json_string(rd_kafka_ConfigResource_error_string(rs[i])));
        else
            json_object_set_new(t, "config", config_entries(rs[i]));
    }
}

/* Bytes of the segment files (*.log) in a partition's directory: what
 * Kafka counts as the log's size (its indexes are preallocated, so their
 * file sizes would mislead). */
static long long dir_bytes(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    long long sum = 0;
    struct dirent *e;
    char file[8192];
    struct stat st;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".log") != 0)
            continue;
        if (snprintf(file, sizeof(file), "%s/%s", path, e->d_name) >= (int)sizeof(file))
            continue;
        if (stat(file, &st) == 0 && S_ISREG(st.st_mode))
            sum += (long long)st.st_size;
    }
    closedir(d);
    return sum;
}

/* The size of each topic as the sum of its partitions' log directories
 * under the broker's log.dirs, when this host can read them (the loopback
 * stack). DescribeLogDirs, the proper way, is not in librdkafka 2.0.2. */
static void set_sizes(json_t *topics, const char *log_dirs)
{
    size_t ti;
    json_t *t;
    json_array_foreach(topics, ti, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        long long total = 0;
        bool found = false;
        char *dirs = strdup(log_dirs), *save = NULL;
        for (char *d = dirs ? strtok_r(dirs, ",", &save) : NULL; d;
             d = strtok_r(NULL, ",", &save)) {
            size_t pi;
            json_t *p;
            json_array_foreach(json_object_get(t, "partitions"), pi, p)
            {
                char path[4096];
                snprintf(path, sizeof(path), "%s/%s-%lld", d, name,
                         (long long)json_integer_value(json_object_get(p, "partition")));
                long long b = dir_bytes(path);
                if (b >= 0) {
                    total += b;
                    found = true;
                }
            }
        }
        free(dirs);
        if (found)
            json_object_set_new(t, "size_bytes", json_integer(total));
    }
}

static void fill_sizes(con_kafka *k, json_t *topics, int32_t broker)
{
    char id[16], err[256];
    snprintf(id, sizeof(id), "%d", broker);
    rd_kafka_ConfigResource_t *r = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, id);
    rd_kafka_event_t *ev = describe_configs(k, &r, 1, err, sizeof(err));
    rd_kafka_ConfigResource_destroy(r);
    if (!ev)
        return;
    size_t n;
    const rd_kafka_DescribeConfigs_result_t *res = rd_kafka_event_DescribeConfigs_result(ev);
    const rd_kafka_ConfigResource_t **rs =
        res ? rd_kafka_DescribeConfigs_result_resources(res, &n) : NULL;
    json_t *cfg =
        rs && n == 1 && !rd_kafka_ConfigResource_error(rs[0]) ? config_entries(rs[0]) : NULL;
    const char *dirs = json_string_value(json_object_get(cfg, "log.dirs"));
    if (!dirs)
        dirs = json_string_value(json_object_get(cfg, "log.dir"));
    if (dirs)
        set_sizes(topics, dirs);
    json_decref(cfg);
    rd_kafka_event_destroy(ev);
}

void con_kafka_fill_configs(con_kafka *k, json_t *topics, int32_t broker)
{
    size_t n = json_array_size(topics), i;
    rd_kafka_ConfigResource_t **res = calloc(n ? n : 1, sizeof(*res));
    json_t *t;
    char err[256];
    if (!res)
        return;
    json_array_foreach(topics, i, t) res[i] = rd_kafka_ConfigResource_new(
        RD_KAFKA_RESOURCE_TOPIC, json_string_value(json_object_get(t, "name")));
    rd_kafka_event_t *ev = n ? describe_configs(k, res, n, err, sizeof(err)) : NULL;
    if (ev)
        set_configs(topics, ev);
    json_array_foreach(topics, i, t)
    {
        if (!ev)
            json_object_set_new(t, "config_error", json_string(err));
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_ConfigResource_destroy_array(res, n);
    free(res);
    if (broker >= 0)
        fill_sizes(k, topics, broker);
}

/* The groups of every broker. rd_kafka_list_groups (ListGroups) rather than
 * the admin ListConsumerGroups: in librdkafka 2.0.2 the latter asks only
 * the brokers whose connection is already up, so on a fresh handle it
 * answers an empty list without an error; list_groups waits for them all.
 * protocol_type "consumer" is a regular group, "" a simple (assign-only)
 * group that only commits offsets. */
static json_t *list_groups(con_kafka *k, json_t *errors, char *err, size_t errlen)
{
    const struct rd_kafka_group_list *gl = NULL;
    rd_kafka_resp_err_t e = rd_kafka_list_groups(k->rk, NULL, &gl, k->timeout_ms);
    if (e && !gl) {
        snprintf(err, errlen, "Kafka list groups: %s", rd_kafka_err2str(e));
        return NULL;
    }
    if (e) /* some brokers did not answer: their groups are missing */
        json_array_append_new(errors, json_string(rd_kafka_err2str(e)));
    json_t *groups = json_array();
    for (int i = 0; groups && i < gl->group_cnt && i < ADMIN_MAX_GROUPS; i++) {
        const struct rd_kafka_group_info *g = &gl->groups[i];
        if (g->protocol_type && *g->protocol_type && strcmp(g->protocol_type, "consumer") != 0)
            continue; /* e.g. Kafka Connect workers: not consumer groups */
        json_array_append_new(
            groups, json_pack("{s:s,s:s?,s:b,s:n,s:[],s:[],s:I,s:o}", "group", g->group, "state",
                              g->state, "simple", !g->protocol_type || !*g->protocol_type,
                              "coordinator", "members", "offsets", "lag", (json_int_t)0, "error",
                              g->err ? json_string(rd_kafka_err2str(g->err)) : json_null()));
    }
    rd_kafka_group_list_destroy(gl);
    return groups;
}

static json_t *tp_list_json(const rd_kafka_topic_partition_list_t *l)
{
    json_t *a = json_array();
    for (int i = 0; l && a && i < l->cnt; i++)
        json_array_append_new(a, json_pack("{s:s,s:i}", "topic", l->elems[i].topic, "partition",
                                           l->elems[i].partition));
    return a;
}

static void set_description(json_t *g, const rd_kafka_ConsumerGroupDescription_t *d)
{
    const rd_kafka_error_t *e = rd_kafka_ConsumerGroupDescription_error(d);
    const rd_kafka_Node_t *coord = rd_kafka_ConsumerGroupDescription_coordinator(d);
    json_t *members = json_object_get(g, "members");
    if (e) {
        json_object_set_new(g, "error", json_string(rd_kafka_error_string(e)));
        return;
    }
    if (coord)
        json_object_set_new(g, "coordinator", json_integer(rd_kafka_Node_id(coord)));
    for (size_t i = 0; i < rd_kafka_ConsumerGroupDescription_member_count(d); i++) {
        const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, i);
        const rd_kafka_MemberAssignment_t *a = rd_kafka_MemberDescription_assignment(m);
        json_array_append_new(
            members, json_pack("{s:s?,s:s?,s:s?,s:o}", "member_id",
                               rd_kafka_MemberDescription_consumer_id(m), "client_id",
                               rd_kafka_MemberDescription_client_id(m), "host",
                               rd_kafka_MemberDescription_host(m), "assignment",
                               tp_list_json(a ? rd_kafka_MemberAssignment_partitions(a) : NULL)));
    }
}

static void describe_groups(con_kafka *k, json_t *groups)
{
    size_t n = json_array_size(groups), i;
    const char **ids = calloc(n ? n : 1, sizeof(*ids));
    json_t *g;
    char err[256];
    if (!ids || n == 0) {
        free(ids);
        return;
    }
    json_array_foreach(groups, i, g) ids[i] = json_string_value(json_object_get(g, "group"));
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->rk);
    rd_kafka_AdminOptions_t *o = admin_options(k, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    rd_kafka_DescribeConsumerGroups(k->rk, ids, n, o, q);
    rd_kafka_event_t *ev = con_kafka_admin_wait(k, q, err, sizeof(err));
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    free(ids);
    const rd_kafka_DescribeConsumerGroups_result_t *res =
        ev ? rd_kafka_event_DescribeConsumerGroups_result(ev) : NULL;
    size_t nd = 0;
    const rd_kafka_ConsumerGroupDescription_t **ds =
        res ? rd_kafka_DescribeConsumerGroups_result_groups(res, &nd) : NULL;
    json_array_foreach(groups, i, g)
    {
        const char *id = json_string_value(json_object_get(g, "group"));
        if (!ev)
            json_object_set_new(g, "error", json_string(err));
        for (size_t d = 0; ds && d < nd; d++) {
            if (strcmp(rd_kafka_ConsumerGroupDescription_group_id(ds[d]), id) == 0)
                set_description(g, ds[d]);
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
}

/* The committed offsets of one group (2.0.2 takes one group per request),
 * a copy the caller destroys; NULL with why. */
static rd_kafka_topic_partition_list_t *group_offsets(con_kafka *k, const char *group, char *err,
                                                      size_t errlen)
{
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->rk);
    rd_kafka_AdminOptions_t *o = admin_options(k, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_ListConsumerGroupOffsets(k->rk, &req, 1, o, q);
    rd_kafka_event_t *ev = con_kafka_admin_wait(k, q, err, errlen);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    if (!ev)
        return NULL;
    size_t n = 0;
    const rd_kafka_ListConsumerGroupOffsets_result_t *res =
        rd_kafka_event_ListConsumerGroupOffsets_result(ev);
    const rd_kafka_group_result_t **gr =
        res ? rd_kafka_ListConsumerGroupOffsets_result_groups(res, &n) : NULL;
    rd_kafka_topic_partition_list_t *out = NULL;
    if (n == 1 && rd_kafka_group_result_error(gr[0]))
        snprintf(err, errlen, "%s", rd_kafka_error_string(rd_kafka_group_result_error(gr[0])));
    else if (n == 1 && rd_kafka_group_result_partitions(gr[0]))
        out = rd_kafka_topic_partition_list_copy(rd_kafka_group_result_partitions(gr[0]));
    else
        snprintf(err, errlen, "no offsets in the answer");
    rd_kafka_event_destroy(ev);
    return out;
}

/* Committed offsets against end offsets: one ListOffsets round per group. */
static void set_offsets(con_kafka *k, json_t *g)
{
    char err[256];
    rd_kafka_topic_partition_list_t *c =
        group_offsets(k, json_string_value(json_object_get(g, "group")), err, sizeof(err));
    if (!c) {
        json_object_set_new(g, "error", json_string(err));
        return;
    }
    rd_kafka_topic_partition_list_t *ends = rd_kafka_topic_partition_list_copy(c);
    bool have_ends = con_kafka_list_offsets(k, ends, RD_KAFKA_OFFSET_END, err, sizeof(err)) == 0;
    json_t *offsets = json_object_get(g, "offsets");
    json_int_t total = 0;
    for (int i = 0; i < c->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &c->elems[i], *e = &ends->elems[i];
        bool committed = !p->err && p->offset >= 0;
        bool high = have_ends && !e->err && e->offset >= 0;
        json_int_t lag = committed && high ? e->offset - p->offset : 0;
        total += lag;
        json_array_append_new(offsets,
                              json_pack("{s:s,s:i,s:o,s:o,s:o}", "topic", p->topic, "partition",
                                        p->partition, "committed",
                                        committed ? json_integer(p->offset) : json_null(), "high",
                                        high ? json_integer(e->offset) : json_null(), "lag",
                                        committed && high ? json_integer(lag) : json_null()));
    }
    json_object_set_new(g, "lag", json_integer(total));
    if (!have_ends)
        json_object_set_new(g, "error", json_string(err));
    rd_kafka_topic_partition_list_destroy(c);
    rd_kafka_topic_partition_list_destroy(ends);
}

json_t *con_kafka_groups(con_kafka *k, char *err, size_t errlen)
{
    rd_kafka_poll(k->rk, 0);
    json_t *errors = json_array();
    json_t *groups = list_groups(k, errors, err, errlen);
    if (!groups) {
        json_decref(errors);
        return NULL;
    }
    describe_groups(k, groups);
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g) set_offsets(k, g);
    return json_pack("{s:o,s:o}", "groups", groups, "errors", errors);
}
