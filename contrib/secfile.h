/* SPDX-License-Identifier: Apache-2.0 */
/* Files that hold secrets (database, keys, passwords) must be private to
 * their owner: no permission bit for the group or for others. */
#pragma once
#include <stddef.h>

#include <jansson.h>

/**
 * Check that a secret file is private to its owner (mode & 077 == 0).
 * @param what names the file in the message, e.g. "database" or
 *        "config: tls.key_file:"
 * @param path the file; symbolic links are followed
 * @param fd an open descriptor of path to check instead of the name
 *        (no race with a rename), or -1 to stat path
 * @return 0 when private, 1 when path does not exist (fd -1 only), -1
 *         with one line in err naming the file, its mode and the chmod
 *         that fixes it (or the stat error).
 */
int secfile_check(
    const char *what, const char *path, int fd, char *err, size_t errlen);

/**
 * Read the secret a setting names: c["<what>_file"] (a private file,
 * trailing newlines dropped) or c["<what>_env"] (an environment
 * variable), exactly one of them, not empty.
 * @param prefix names c in messages, e.g. "connectors[0]."
 * @param out malloc'd secret; the caller cleanses and frees it
 * @return 0, or -1 with one line in err naming the setting
 */
int secfile_read(const json_t *c, const char *what, const char *prefix,
    char **out, char *err, size_t errlen);
