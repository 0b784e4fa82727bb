/*  Unit tests for fetch and fetched, the version-2 messages by which a
    pool worker without shared memory asks the server for array bytes
    (docs/PROTOCOL.md 10.4): they round trip, they exist in version 2
    only, and a malformed one is refused whole. */

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/limits.h"

#define s_assert_field(field, text, size) do {                          \
        ff_str_t field_ = (field);                                      \
        ck_assert_uint_eq (field_.len, (size));                         \
        if (field_.len)                                                 \
            ck_assert_mem_eq (field_.ptr, (text), field_.len);          \
    } while (0)

static const char s_handle [] = "file:64769:1311:400000128:1732982400123456789:/data/a:b.npy";

START_TEST (test_fetch_round_trips)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    ff_codec_set_version (codec, FF_PROTOCOL_POOL);
    ff_codec_fetch (codec, "s1-3", 7, 42, s_handle, strlen (s_handle), 4194432,
                    FF_FETCH_CHUNK);
    ck_assert_int_eq (ff_msg_decode (ff_codec_data (codec), ff_codec_size (codec), &msg), 0);
    ck_assert_int_eq (msg.type, FF_MSG_FETCH);
    ck_assert_uint_eq (msg.version, FF_PROTOCOL_POOL);
    s_assert_field (msg.job, "s1-3", 4);
    ck_assert_uint_eq (msg.worker, 7);
    ck_assert_uint_eq (msg.seq, 42);
    s_assert_field (msg.segment, s_handle, strlen (s_handle));
    ck_assert_uint_eq (msg.offset, 4194432);
    ck_assert_uint_eq (msg.length, FF_FETCH_CHUNK);
    ck_assert_str_eq (ff_msg_type_name (msg.type), "fetch");
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_fetched_round_trips_bytes_and_a_refusal)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    size_t size = FF_FETCH_CHUNK, index;
    char *bytes = malloc (size);
    ck_assert_ptr_nonnull (bytes);
    for (index = 0; index < size; index++)
        bytes [index] = (char) (index * 7);
    ff_codec_fetched (codec, "s1-3", 4, 42, "ff_1000_s1-3_9_x_0_array", 24, 128, 0, bytes, size);
    /* the answer of the largest piece fits a control message */
    ck_assert_uint_le (ff_codec_size (codec), FF_MAX_CONTROL_MESSAGE);
    ck_assert_int_eq (ff_msg_decode (ff_codec_data (codec), ff_codec_size (codec), &msg), 0);
    ck_assert_int_eq (msg.type, FF_MSG_FETCHED);
    s_assert_field (msg.job, "s1-3", 4);
    ck_assert_uint_eq (msg.seq, 42);
    s_assert_field (msg.segment, "ff_1000_s1-3_9_x_0_array", 24);
    ck_assert_uint_eq (msg.offset, 128);
    ck_assert_uint_eq (msg.status, 0);
    s_assert_field (msg.data, bytes, size);
    ff_codec_fetched (codec, "s1-3", 4, 42, "x", 1, 0, 1, "no such job", 11);
    ck_assert_int_eq (ff_msg_decode (ff_codec_data (codec), ff_codec_size (codec), &msg), 0);
    ck_assert_uint_eq (msg.status, 1);
    s_assert_field (msg.data, "no such job", 11);
    free (bytes);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_fetch_is_version_2_only_and_malformed_ones_are_refused)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    uint8_t copy [256];
    ff_codec_fetch (codec, "j", 1, 2, "seg", 3, 0, 8);
    size_t size = ff_codec_size (codec);
    memcpy (copy, ff_codec_data (codec), size);
    copy [1] = 1;                   /* version 1 */
    ck_assert_int_ne (ff_msg_decode (copy, size, &msg), 0);
    copy [1] = 2;
    ck_assert_int_eq (ff_msg_decode (copy, size, &msg), 0);
    /* every truncation, and one trailing byte, is refused */
    for (size_t cut = 1; cut < size; cut++)
        ck_assert_int_ne (ff_msg_decode (copy, cut, &msg), 0);
    copy [size] = 0;
    ck_assert_int_ne (ff_msg_decode (copy, size + 1, &msg), 0);
    /* a fetched status other than 0 or 1 is refused */
    ff_codec_fetched (codec, "j", 1, 2, "seg", 3, 0, 1, "why", 3);
    size = ff_codec_size (codec);
    memcpy (copy, ff_codec_data (codec), size);
    ck_assert_int_eq (ff_msg_decode (copy, size, &msg), 0);
    uint8_t *status = NULL;         /* status 1, just before the bin8 of "why" */
    for (size_t at = 0; at + 1 < size; at++)
        if (copy [at] == 0x01 && copy [at + 1] == 0xc4)
            status = &copy [at];
    ck_assert_ptr_nonnull (status);
    *status = 2;
    ck_assert_int_ne (ff_msg_decode (copy, size, &msg), 0);
    ff_codec_destroy (&codec);
}
END_TEST

Suite *
fetch_suite (void)
{
    Suite *suite = suite_create ("fetch");
    TCase *tc = tcase_create ("messages");
    tcase_add_test (tc, test_fetch_round_trips);
    tcase_add_test (tc, test_fetched_round_trips_bytes_and_a_refusal);
    tcase_add_test (tc, test_fetch_is_version_2_only_and_malformed_ones_are_refused);
    suite_add_tcase (suite, tc);
    return suite;
}
