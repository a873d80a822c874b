/* The conversion of an item of another class than Email is kept in the
 * item cache under the file's ETag (as_sync_item_to_eas): a second device
 * or Sync gets the same ApplicationData without a parse; a new version of
 * the file, another protocol version or another BodyPreference is
 * converted again; another account never sees it. */
#include <apr_strings.h>

#include "activesync/as_itemcache.h"
#include "activesync/as_sync_engine.h"
#include "fakecoll.h"
#include "synctest.h"

static fc_store_t *fc;

static void conv_setup(void)
{
    st_setup();
    fc = fc_open(st_base, ST_ACCT);
}

static void conv_teardown(void)
{
    fc_close(fc);
    st_teardown();
}

/* The FileAs the conversion of item "c1" gives under o. */
static const char *convert(fc_store_t *f, const as_item_opts_t *o)
{
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr app = xmlNewDocNode(doc, NULL, BAD_CAST "ApplicationData", NULL);
    const char *r;
    xmlDocSetRootElement(doc, app);
    ck_assert_int_eq(as_sync_item_to_eas(&f->st, fc_codec(AS_CLASS_CONTACTS), FC_FOLDER, "c1", NULL,
                                         o, app, unit_pool, NULL, NULL),
                     APR_SUCCESS);
    r = apr_pstrdup(unit_pool,
                    as_xml_text(unit_pool, as_xml_child(app, "Contacts:", "FileAs"), NULL));
    xmlFreeDoc(doc);
    return r;
}

static void stats(as_itemcache_stats_t *s)
{
    as_itemcache_stats(as_itemcache_shared(), s);
}

START_TEST(conversion_cached_by_etag)
{
    as_item_opts_t o = {141, NULL, 0, NULL, NULL};
    as_mime_bodypref_t pref = {1, 200, 0, 0};
    as_itemcache_stats_t s0, s;
    fc_store_t *other = fc_open(st_base, "someone@example.com");

    fc_put(fc, "c1", "FN:Ann Example\nX-KEEP:1\n");
    stats(&s0);
    ck_assert_str_eq(convert(fc, &o), "Ann Example");
    ck_assert_str_eq(convert(fc, &o), "Ann Example");
    stats(&s);
    ck_assert_uint_eq(s.misses - s0.misses, 1);
    ck_assert_uint_eq(s.hits - s0.hits, 1);
    ck_assert_uint_eq(s.stored - s0.stored, 1);

    /* a new version of the file: converted again, never the old result */
    fc_put(fc, "c1", "FN:Ann Changed\n");
    ck_assert_str_eq(convert(fc, &o), "Ann Changed");
    /* another protocol version, another body preference: their own entries */
    o.protocol = 121;
    ck_assert_str_eq(convert(fc, &o), "Ann Changed");
    o.prefs = &pref;
    o.nprefs = 1;
    ck_assert_str_eq(convert(fc, &o), "Ann Changed");
    stats(&s);
    ck_assert_uint_eq(s.misses - s0.misses, 4);
    ck_assert_uint_eq(s.hits - s0.hits, 1);

    /* another account's item of the same folder, id and ETag ("e1", as the
     * first version of fc's above: the fake store's ETags are counters) is
     * converted for itself */
    o.protocol = 141;
    o.prefs = NULL;
    o.nprefs = 0;
    fc_put(other, "c1", "FN:Other Person\n");
    ck_assert_str_eq(other->items[0].etag, "\"e1\"");
    ck_assert_str_eq(convert(other, &o), "Other Person");
    fc_close(other);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("item_conv_cache");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, conv_setup, conv_teardown);
    tcase_add_test(tc, conversion_cached_by_etag);
    suite_add_tcase(s, tc);
    return s;
}
