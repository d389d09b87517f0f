/* tokenize.h - a source file's text as Python's tokenize.open() reads it, for linecache.

   detect_encoding(): a UTF-8 BOM, else a PEP 263 coding cookie on line 1 or 2 (line 2 only
   when line 1 is blank or a comment; a line searched for a cookie must itself be valid UTF-8),
   else UTF-8. A cookie's name goes through tokenize._get_normal_name() and codecs.lookup()'s
   normalisation and aliases (encodings.aliases of CPython 3.11). A BOM with a cookie other
   than "utf-8" is Python's SyntaxError. The whole file is then decoded strictly.

   Decoded exactly: utf-8 (and utf-8-sig), latin-1 (iso-8859-1, charmap), ascii, utf-16-le/-be
   and utf-32-le/-be, and, through glibc's iconv(3), the codecs whose glibc tables were checked
   byte for byte against CPython's: cp037 cp437 cp500 cp737 cp775 cp850 cp852 cp855 cp857
   cp858 cp860-cp866 cp869 cp874 cp949 cp1125 cp1140 cp1250-cp1254 cp1256 cp1257 gb2312
   hp_roman8 iso8859_2-iso8859_16 koi8_r koi8_t koi8_u kz1048 mac_latin2 ptcp154. A file in any
   other codec gets no text here, as one in an unknown encoding does: CPython's CJK codecs but
   gb2312 and cp949, cp1006 cp1026 cp1255 cp1258 cp273 cp424 cp720 cp856 cp875, mac_* but
   mac_latin2, hz johab palmos tis_620 utf_7 idna punycode (raw_)unicode_escape, which glibc
   decodes differently or not at all; and those CPython itself fails on with an exception
   linecache does not catch: utf_16 and utf_32 (its reader wants a BOM, and none can precede a
   cookie), undefined, and the bytes-to-bytes codecs (base64, hex, rot13, zlib, ...). */
#ifndef TOKENIZE_H
#define TOKENIZE_H

#include <stddef.h>
#include <stdint.h>

/* The n bytes of a file decoded to UTF-8 in a new NUL-terminated buffer (the caller frees it),
   its length in *len; NULL when Python reads no text from the file (SyntaxError from
   detect_encoding, an unknown encoding, UnicodeDecodeError), for a codec not decoded here
   (see above), or when memory runs out. */
char *tokenize_open(const char *bytes, size_t n, size_t *len);

/* The length of the character at s (n > 0 bytes available) if it is valid UTF-8 as Python's
   strict decoder has it (no overlong forms, no surrogates, nothing past U+10FFFF), with its code
   point in *cp; 0 if it is not. */
int utf8_char(const char *s, size_t n, uint32_t *cp);

#endif
