/* test_dedup_normalize.c: the text normalisation dedup hashes and shingles:
 * case, digits, punctuation, whitespace, accents (Latin-1 Supplement and
 * Latin Extended-A), combining marks, invalid UTF-8. */
#include "curate/normalize.h"
#include "tap.h"

static char *norm(const char *s)
{
    static av_buf b = AV_BUF_INIT;
    av_text_normalize(&b, s, strlen(s));
    return b.ptr ? b.ptr : "";
}

static void test_dedup_normalize__case_digits_punct(void)
{
    CHECK_EQ_STR(norm("Hello, World!"), "hello world");
    CHECK_EQ_STR(norm("In 2024 I had 3.14 apples"), "in 0000 i had 000 apples");
    CHECK_EQ_STR(norm("don't  stop--now... (ok?)"), "dont stopnow ok");
    CHECK_EQ_STR(norm("a_b-c/d"), "abcd");
    CHECK_EQ_STR(norm("!!!"), "");
    CHECK_EQ_STR(norm(""), "");
}

static void test_dedup_normalize__whitespace(void)
{
    CHECK_EQ_STR(norm("  leading\t\ttabs\n\nand   trailing  \r\n"), "leading tabs and trailing");
    CHECK_EQ_STR(norm("no\xC2\xA0" "break\xE2\x80\x83" "em\xE3\x80\x80" "ideographic"), "no break em ideographic");
    CHECK_EQ_STR(norm("a , b"), "a b"); /* punctuation alone between spaces leaves one space */
    CHECK_EQ_STR(norm("zero\xE2\x80\x8Bwidth"), "zerowidth");
}

static void test_dedup_normalize__accents(void)
{
    CHECK_EQ_STR(norm("Caf\xC3\xA9 na\xC3\xAFve \xC3\x80 LA CR\xC3\x88ME"), "cafe naive a la creme");
    CHECK_EQ_STR(norm("Stra\xC3\x9F" "e \xC3\x86sir \xC5\x92uvre \xC3\x9Eorn"), "strasse aesir oeuvre thorn");
    CHECK_EQ_STR(norm("\xC5\x81\xC3\xB3\x64\xC5\xBA \xC5\xA0koda \xC4\x8C\x65sk\xC3\xBD \xC4\xB0stanbul \xC4\xB3"), "lodz skoda cesky istanbul ij");
    CHECK_EQ_STR(norm("\xC2\xBFQu\xC3\xA9 tal? \xC2\xA1" "Bien!"), "que tal bien");
    CHECK_EQ_STR(norm("2\xC3\x97" "3 \xC3\xB7 x\xC2\xB2"), "00 x0");
    /* e + combining acute (decomposed) equals the precomposed form */
    CHECK_EQ_STR(norm("Cafe\xCC\x81"), "cafe");
    /* every Latin Extended-A letter folds to ASCII letters */
    for (unsigned cp = 0x100; cp <= 0x17F; cp++) {
        char s[3] = {(char)(0xC0 | (cp >> 6)), (char)(0x80 | (cp & 0x3F)), 0};
        const char *r = norm(s);
        CHECK(*r);
        for (const char *p = r; *p; p++) CHECK(*p >= 'a' && *p <= 'z');
    }
}

static void test_dedup_normalize__other_scripts(void)
{
    CHECK_EQ_STR(norm("\xCE\x91\xCE\xB8\xCE\xAE\xCE\xBD\xCE\xB1"), "\xCE\xB1\xCE\xB8\xCE\xAE\xCE\xBD\xCE\xB1"); /* Greek capital lowered */
    CHECK_EQ_STR(norm("\xD0\x9C\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0"), "\xD0\xBC\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0");
    CHECK_EQ_STR(norm("\xE8\xAF\xB7\xE8\xA7\xA3\xE9\x87\x8A\xE3\x80\x82\xE4\xB8\x80"), "\xE8\xAF\xB7\xE8\xA7\xA3\xE9\x87\x8A\xE4\xB8\x80");
    CHECK_EQ_STR(norm("emoji \xF0\x9F\x98\x8A ok"), "emoji \xF0\x9F\x98\x8A ok");
}

static void test_dedup_normalize__invalid_utf8(void)
{
    CHECK_EQ_STR(norm("bad\xFF\xC0\x80 byte\xE2\x82"), "bad byte");
    CHECK_EQ_STR(norm("surrogate\xED\xA0\x80!"), "surrogate");
}

static uint64_t rng = 88172645463325252ull;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

/* Random byte strings (biased towards UTF-8 lead bytes, accents and
 * punctuation): the output is valid UTF-8, single-spaced, trimmed, and
 * normalising it again changes nothing. */
static void test_dedup_normalize__random_invariants(void)
{
    static const char *const pieces[] = {"A", "z", "7", " ", "\t", "\n", ",", "'", "\xC3\xA9", "\xC3\x9F",
                                         "\xC5\x81", "\xCC\x81", "\xE2\x80\x94", "\xE3\x80\x80", "\xF0\x9F\x98\x8A",
                                         "\xCE\x91", "\xD0\x9C", "\xC2\xA0", "\xC2\xB2", "\xE4\xB8\x80"};
    av_buf in = AV_BUF_INIT, out = AV_BUF_INIT, again = AV_BUF_INIT;
    int bad = 0;
    for (int round = 0; round < 20000 && bad < 5; round++) {
        av_buf_reset(&in);
        int n = (int)(next_rand() % 40);
        for (int i = 0; i < n; i++) {
            uint32_t r = next_rand();
            if (r % 3 == 0) av_buf_putc(&in, (char)(r >> 8)); /* any byte, NUL included */
            else av_buf_puts(&in, pieces[(r >> 8) % (sizeof pieces / sizeof pieces[0])]);
        }
        av_text_normalize(&out, in.ptr, in.len);
        size_t at;
        const char *o = out.ptr ? out.ptr : "";
        int ok = av_utf8_valid(o, out.len, &at) && !strstr(o, "  ") &&
                 (out.len == 0 || (o[0] != ' ' && o[out.len - 1] != ' ')) && strlen(o) == out.len;
        av_text_normalize(&again, o, out.len);
        ok = ok && again.len == out.len && !memcmp(again.ptr ? again.ptr : "", o, out.len);
        if (!ok) bad++;
        CHECK(ok);
    }
    av_buf_free(&in);
    av_buf_free(&out);
    av_buf_free(&again);
}

int main(void)
{
    RUN(test_dedup_normalize__case_digits_punct);
    RUN(test_dedup_normalize__whitespace);
    RUN(test_dedup_normalize__accents);
    RUN(test_dedup_normalize__other_scripts);
    RUN(test_dedup_normalize__invalid_utf8);
    RUN(test_dedup_normalize__random_invariants);
    return tap_done();
}
