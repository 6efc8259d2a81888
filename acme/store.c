/* SPDX-License-Identifier: Apache-2.0 */
/* The typed store: one table of statements, rows into structs. */
#include "acme/store.h"
#include "acme/store_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCT_COLS                                                              \
	"a.id, a.kid, a.status, a.created, a.tos_agreed, ifnull(a.eab_kid,"    \
	" ''), a.connector, a.thumbprint, 0, a.contact, a.jwk, a.eab_binding"

#define ORDER_COLS                                                             \
	"o.id, o.account_id, o.oid, o.status, o.enroll_state, o.connector,"    \
	" o.ca_ref, o.csr_pem, o.identifiers, o.expires, o.error, c.crt_id,"   \
	" ifnull(o.profile, ''), ifnull(o.replaces, ''),"                      \
	" ifnull(o.predecessor, 0), ifnull(o.ca_status, ''),"                  \
	" o.name_set"
#define AUTHZ_COLS                                                             \
	"a.id, a.aid, a.account_id, a.id_type, a.id_value, a.wildcard,"        \
	" a.status, a.expires, a.created"
#define CHALL_COLS                                                             \
	"c.id, c.cid, c.authz_id, c.type, c.token, c.status,"                  \
	" ifnull(c.validated, 0), c.error"

/* Every statement of the store, by name; the index is also its slot in
 * the connection's statement cache (acme_db_query). */
enum stmt {
	ST_ORDER,
	ST_CHALL_TARGET,
	ST_CERT_REF,
	ST_EAB_ADD,
	ST_EAB_LIST,
	ST_EAB_REMOVE,
	ST_ACCOUNT,
	ST_ACCOUNT_LIST,
	ST_DEACT_AUDIT_KID,
	ST_DEACT_AUDIT_EAB,
	ST_DEACT_AUTHZS_KID,
	ST_DEACT_AUTHZS_EAB,
	ST_DEACT_ACCOUNTS_KID,
	ST_DEACT_ACCOUNTS_EAB,
	ST_AUDIT,
	ST_JOB_ADD,
	ST_JOBS_DUE,
	ST_JOBS_DUE_VALIDATE,
	ST_JOBS_DUE_CA,
	ST_JOB_RETRY,
	ST_JOBS_PURGE,
	ST_JOB_FINISH,
	ST_JOB_ATTEMPTED,
	ST_JOB_TO_COLLECT,
	ST_CHALL_STATE,
	ST_CHALL_VALID,
	ST_CHALL_INVALID,
	ST_AUTHZ_VALID,
	ST_AUTHZ_INVALID,
	ST_ORDERS_READY,
	ST_ORDERS_INVALIDATE,
	ST_ORDER_SENDING,
	ST_ORDER_ENROLLED,
	ST_ORDER_FAIL,
	ST_CERT_ADD,
	ST_ORDER_ISSUED,
	ST_CERT_REVOKED,
	ST_CERT_UNREVOKED,
	ST_PURGE_ORDER_AUTHZS,
	ST_PURGE_ORDERS,
	ST_PURGE_CHALLENGES,
	ST_PURGE_AUTHZS,
	ST_PURGE_AUDIT,
	ST_ACCOUNT_ADD,
	ST_ORDER_ADD,
	ST_AUTHZ_ADD,
	ST_ORDER_AUTHZ_LINK,
	ST_CHALL_ADD,
	ST_EAB_PREAUTH_SET,
	ST_ACCOUNT_PREAUTH,
	ST_ACCT_AUTH,
	ST_ACCT_BY_ID,
	ST_ACCT_BY_THUMB,
	ST_ACCT_CONTACT,
	ST_ACCT_DEACT,
	ST_ACCT_DEACT_AUTHZS,
	ST_ACCT_KEY,
	ST_EAB_GET,
	ST_EAB_BOUND,
	ST_ACCT_ORDERS,
	ST_CERT_BY_CRT,
	ST_CERT_BY_KEY,
	ST_CERT_REVOKING,
	ST_JOB_QUEUED_FOR,
	ST_JOB_STATE,
	ST_AUTHZ_HELD,
	ST_AUTHZ_BY_AID,
	ST_AUTHZ_CHALLS,
	ST_CHALL_BY_CID,
	ST_AUTHZ_DEACT,
	ST_AUTHZ_DEACT_ORDERS,
	ST_CHALL_START,
	ST_ORDER_BY_OID,
	ST_ORDER_AIDS,
	ST_ORDER_LAPSED,
	ST_ORDER_UNFIT,
	ST_ORDER_INVALID_READY,
	ST_ORDER_SET_READY,
	ST_AUTHZ_REUSE,
	ST_PENDING_AUTHZS,
	ST_ORDER_FINALIZE,
	ST_SYNC_OFF,
	ST_JOBS_FINISH_ALL,
	ST_COUNT
};

static const char *const sql[ST_COUNT] = {
    [ST_ORDER] = "SELECT " ORDER_COLS " FROM orders o LEFT JOIN certificates"
                 " c ON c.id = o.cert_id WHERE o.id = ?",
    [ST_ORDER_BY_OID] = "SELECT " ORDER_COLS " FROM orders o LEFT JOIN"
                        " certificates c ON c.id = o.cert_id WHERE o.oid ="
                        " ?",
    [ST_ORDER_AIDS] = "SELECT a.aid FROM order_authzs oa JOIN authzs a ON"
                      " a.id = oa.authz_id WHERE oa.order_id = ? ORDER BY"
                      " a.id",
    /* an authorization of the order that lapsed by now (still pending or
     * valid, past its expiry) */
    [ST_ORDER_LAPSED] = "SELECT count(*) FROM order_authzs oa JOIN authzs a"
                        " ON a.id = oa.authz_id WHERE oa.order_id = ? AND"
                        " a.status IN ('pending', 'valid') AND a.expires <"
                        " ?",
    /* finalize: every authorization must still be valid and unexpired */
    [ST_ORDER_UNFIT] = "SELECT count(*) FROM order_authzs oa JOIN authzs a"
                       " ON a.id = oa.authz_id WHERE oa.order_id = ? AND"
                       " (a.status != 'valid' OR a.expires < ?)",
    [ST_ORDER_INVALID_READY] = "UPDATE orders SET status = 'invalid',"
                               " updated = ? WHERE id = ? AND status ="
                               " 'ready'",
    [ST_ORDER_SET_READY] = "UPDATE orders SET status = 'ready' WHERE id = ?",
    [ST_AUTHZ_REUSE] = "SELECT id FROM authzs WHERE account_id = ? AND"
                       " id_type = ? AND id_value = ? AND wildcard = ? AND"
                       " status = 'valid' AND expires > ? ORDER BY expires"
                       " DESC LIMIT 1",
    [ST_PENDING_AUTHZS] = "SELECT count(*) FROM authzs WHERE account_id = ?"
                          " AND status = 'pending' AND expires > ?",
    [ST_CHALL_TARGET] =
        "SELECT a.account_id, c.status, c.type, c.token, a.id_type,"
        " a.id_value, acc.jwk FROM challenges c JOIN authzs a ON a.id ="
        " c.authz_id JOIN accounts acc ON acc.id = a.account_id"
        " WHERE c.id = ?",
    [ST_CERT_REF] = "SELECT ca_ref, connector FROM certificates WHERE id = ?",
    [ST_EAB_ADD] = "INSERT INTO eab_keys(kid, hmac_key, connector, note,"
                   " max_accounts, created) VALUES (?, ?, ?, ?,"
                   " NULLIF(?, 0), ?)",
    [ST_EAB_LIST] = "SELECT e.kid, e.connector, e.note, e.created,"
                    " ifnull(e.max_accounts, 0), (SELECT count(*) FROM"
                    " accounts a WHERE a.eab_kid = e.kid),"
                    " ifnull(e.preauth, '') FROM eab_keys e"
                    " ORDER BY e.created, e.kid",
    [ST_EAB_PREAUTH_SET] = "UPDATE eab_keys SET preauth = ? WHERE kid = ?",
    [ST_ACCOUNT_PREAUTH] = "SELECT e.preauth FROM accounts a JOIN eab_keys e"
                           " ON e.kid = a.eab_kid WHERE a.id = ? AND"
                           " e.preauth IS NOT NULL",
    [ST_EAB_REMOVE] = "DELETE FROM eab_keys WHERE kid = ?",
    [ST_ACCOUNT] = "SELECT a.id, a.kid, a.status, a.created, a.tos_agreed,"
                   " ifnull(a.eab_kid, ''), a.connector, a.thumbprint,"
                   " (SELECT count(*) FROM orders o WHERE o.account_id ="
                   " a.id), a.contact, a.jwk, a.eab_binding FROM accounts"
                   " a WHERE a.kid = ?",
    /* the request path's lookups: no orders count (it grows with the
     * account), the binding the account object reflects */
    [ST_ACCT_AUTH] = "SELECT " ACCT_COLS " FROM accounts a WHERE a.kid = ?",
    [ST_ACCT_BY_ID] = "SELECT " ACCT_COLS " FROM accounts a WHERE a.id = ?",
    [ST_ACCT_BY_THUMB] = "SELECT " ACCT_COLS " FROM accounts a WHERE"
                         " a.thumbprint = ?",
    [ST_ACCT_CONTACT] = "UPDATE accounts SET contact = ? WHERE id = ?",
    [ST_ACCT_DEACT] = "UPDATE accounts SET status = 'deactivated' WHERE"
                      " id = ?",
    [ST_ACCT_DEACT_AUTHZS] = "UPDATE authzs SET status = 'deactivated'"
                             " WHERE account_id = ? AND status IN"
                             " ('pending', 'valid')",
    [ST_ACCT_KEY] = "UPDATE accounts SET jwk = ?, thumbprint = ? WHERE id ="
                    " ?",
    [ST_EAB_GET] = "SELECT kid, hmac_key, connector, ifnull(max_accounts,"
                   " 0) FROM eab_keys WHERE kid = ?",
    [ST_EAB_BOUND] = "SELECT count(*) FROM accounts WHERE eab_kid = ?",
    [ST_ACCT_ORDERS] = "SELECT id, oid FROM orders WHERE account_id = ? AND"
                       " id > ? ORDER BY id LIMIT ?",
    [ST_CERT_BY_CRT] = "SELECT c.id, c.account_id, c.status, c.crt_id,"
                       " c.chain_pem, NULL FROM certificates c WHERE"
                       " c.crt_id = ?",
    [ST_CERT_BY_KEY] = "SELECT c.id, c.account_id, c.status, c.crt_id,"
                       " c.chain_pem, o.identifiers FROM certificates c"
                       " JOIN orders o ON o.id = c.order_id WHERE c.serial"
                       " = ? AND c.spki = ?",
    [ST_CERT_REVOKING] = "UPDATE certificates SET status = 'revoking',"
                         " revoke_reason = ? WHERE id = ? AND status ="
                         " 'valid'",
    [ST_JOB_QUEUED_FOR] = "SELECT id FROM jobs WHERE kind = ? AND ref = ?"
                          " AND state = 'queued' ORDER BY id DESC LIMIT 1",
    [ST_JOB_STATE] = "SELECT state, ifnull(last_error, '') FROM jobs WHERE"
                     " id = ?",
    [ST_AUTHZ_BY_AID] = "SELECT " AUTHZ_COLS " FROM authzs a WHERE a.aid ="
                        " ?",
    [ST_AUTHZ_CHALLS] = "SELECT " CHALL_COLS " FROM challenges c WHERE"
                        " c.authz_id = ? ORDER BY c.id",
    [ST_CHALL_BY_CID] = "SELECT " CHALL_COLS ", " AUTHZ_COLS " FROM"
                        " challenges c JOIN authzs a ON a.id = c.authz_id"
                        " WHERE c.cid = ?",
    /* an expired authorization stays expired */
    [ST_AUTHZ_DEACT] = "UPDATE authzs SET status = 'deactivated' WHERE id"
                       " = ? AND status IN ('pending', 'valid') AND"
                       " expires >= ?",
    [ST_AUTHZ_DEACT_ORDERS] = "UPDATE orders SET status = 'invalid',"
                              " updated = ? WHERE status IN ('pending',"
                              " 'ready') AND id IN (SELECT order_id FROM"
                              " order_authzs WHERE authz_id = ?)",
    /* one challenge of an authorization at a time */
    [ST_CHALL_START] = "UPDATE challenges SET status = 'processing' WHERE"
                       " id = ? AND status = 'pending' AND NOT EXISTS"
                       " (SELECT 1 FROM challenges WHERE authz_id = ? AND"
                       " status = 'processing') AND EXISTS (SELECT 1 FROM"
                       " authzs WHERE id = ? AND status = 'pending' AND"
                       " expires >= ?)",
    [ST_AUTHZ_HELD] = "SELECT 1 FROM authzs WHERE account_id = ? AND"
                      " id_type = ? AND id_value = ? AND status = 'valid'"
                      " AND expires > ? LIMIT 1",
    [ST_ACCOUNT_LIST] = "SELECT id, kid, status, created, tos_agreed,"
                        " ifnull(eab_kid, ''), connector, thumbprint, 0,"
                        " contact, '', NULL FROM accounts ORDER BY id",
    [ST_DEACT_AUDIT_KID] = "INSERT INTO audit(ts, event, ref, detail)"
                           " SELECT ?, 'account.deactivated', kid, ? FROM"
                           " accounts WHERE kid = ? AND status = 'valid'",
    [ST_DEACT_AUDIT_EAB] = "INSERT INTO audit(ts, event, ref, detail)"
                           " SELECT ?, 'account.deactivated', kid, ? FROM"
                           " accounts WHERE eab_kid = ? AND status ="
                           " 'valid'",
    [ST_DEACT_AUTHZS_KID] = "UPDATE authzs SET status = 'deactivated'"
                            " WHERE status IN ('pending', 'valid') AND"
                            " account_id IN (SELECT id FROM accounts WHERE"
                            " kid = ? AND status = 'valid')",
    [ST_DEACT_AUTHZS_EAB] = "UPDATE authzs SET status = 'deactivated'"
                            " WHERE status IN ('pending', 'valid') AND"
                            " account_id IN (SELECT id FROM accounts WHERE"
                            " eab_kid = ? AND status = 'valid')",
    [ST_DEACT_ACCOUNTS_KID] = "UPDATE accounts SET status = 'deactivated'"
                              " WHERE kid = ? AND status = 'valid'",
    [ST_DEACT_ACCOUNTS_EAB] = "UPDATE accounts SET status = 'deactivated'"
                              " WHERE eab_kid = ? AND status = 'valid'",
    [ST_AUDIT] = "INSERT INTO audit(ts, event, ref, detail) VALUES (?, ?,"
                 " ?, ?)",
    [ST_JOB_ADD] = "INSERT INTO jobs(kind, ref, arg, state, next_run,"
                   " created, updated) VALUES (?, ?, ?, 'queued', ?, ?, ?)",
    [ST_JOBS_DUE] = "SELECT id, kind, ref, arg, attempts, created FROM jobs"
                    " WHERE state = 'queued' AND next_run <= ? ORDER BY"
                    " next_run, id LIMIT ?",
    [ST_JOBS_DUE_VALIDATE] = "SELECT id, kind, ref, arg, attempts, created"
                             " FROM jobs WHERE state = 'queued' AND"
                             " next_run <= ? AND kind = 'validate' ORDER BY"
                             " next_run, id LIMIT ?",
    [ST_JOBS_DUE_CA] = "SELECT id, kind, ref, arg, attempts, created FROM"
                       " jobs WHERE state = 'queued' AND next_run <= ? AND"
                       " kind <> 'validate' ORDER BY next_run, id LIMIT ?",
    [ST_JOB_RETRY] = "UPDATE jobs SET next_run = ?, attempts = attempts +"
                     " 1, last_error = ?, updated = ? WHERE id = ?",
    /* without statistics SQLite would walk jobs_due over every finished
     * job: name the index that makes this a range */
    [ST_JOBS_PURGE] = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs"
                      " INDEXED BY jobs_finished WHERE state IN ('done',"
                      " 'failed') AND updated < ?)",
    [ST_JOB_FINISH] = "UPDATE jobs SET state = ?, last_error = ?, updated = ?"
                      " WHERE id = ?",
    [ST_JOB_ATTEMPTED] = "UPDATE jobs SET attempts = attempts + 1, updated ="
                         " ? WHERE id = ?",
    [ST_JOB_TO_COLLECT] = "UPDATE jobs SET kind = 'collect', attempts = 0,"
                          " next_run = ?, last_error = NULL, updated = ?"
                          " WHERE id = ?",
    [ST_CHALL_STATE] = "SELECT c.id, c.status, c.authz_id, a.status,"
                       " a.expires, a.id_value, a.id_type FROM challenges c"
                       " JOIN authzs a ON a.id = c.authz_id WHERE c.id = ?",
    [ST_CHALL_VALID] = "UPDATE challenges SET status = 'valid', validated ="
                       " ? WHERE id = ?",
    [ST_CHALL_INVALID] = "UPDATE challenges SET status = 'invalid', error ="
                         " ? WHERE id = ?",
    [ST_AUTHZ_VALID] = "UPDATE authzs SET status = 'valid', expires = ?"
                       " WHERE id = ?",
    [ST_AUTHZ_INVALID] = "UPDATE authzs SET status = 'invalid' WHERE id = ?",
    /* RFC 8555 §7.1.6: an order turns ready when all its
     * authorizations are valid */
    [ST_ORDERS_READY] = "UPDATE orders SET status = 'ready', updated = ?"
                        " WHERE status = 'pending' AND id IN (SELECT"
                        " order_id FROM order_authzs WHERE authz_id = ?) AND"
                        " NOT EXISTS (SELECT 1 FROM order_authzs oa JOIN"
                        " authzs a ON a.id = oa.authz_id WHERE oa.order_id ="
                        " orders.id AND a.status != 'valid')",
    /* the orders that wait on a failed authorization */
    [ST_ORDERS_INVALIDATE] = "UPDATE orders SET status = 'invalid', error ="
                             " ?, updated = ? WHERE status IN ('pending',"
                             " 'ready') AND id IN (SELECT order_id FROM"
                             " order_authzs WHERE authz_id = ?)",
    [ST_ORDER_SENDING] = "UPDATE orders SET enroll_state = 1, updated = ?"
                         " WHERE id = ?",
    [ST_ORDER_ENROLLED] = "UPDATE orders SET ca_ref = ?, enroll_state = 2,"
                          " updated = ? WHERE id = ?",
    [ST_ORDER_FAIL] = "UPDATE orders SET status = 'invalid', error = ?,"
                      " updated = ? WHERE id = ? AND status = 'processing'",
    [ST_CERT_ADD] = "INSERT INTO certificates(crt_id, order_id, account_id,"
                    " serial, spki, chain_pem, not_before, not_after,"
                    " connector, ca_ref, status, created, profile, names,"
                    " aki, predecessor, alt_chain_pem, source) VALUES (?,"
                    " ?, ?, ?, ?, ?, ?, ?, ?, ?, 'valid', ?, ?, ?, ?,"
                    " nullif(?, 0), ?, coalesce(?, 'acme'))",
    [ST_ORDER_ISSUED] = "UPDATE orders SET status = 'valid', cert_id = ?,"
                        " updated = ? WHERE id = ?",
    [ST_CERT_REVOKED] = "UPDATE certificates SET status = 'revoked' WHERE"
                        " id = ?",
    [ST_CERT_UNREVOKED] = "UPDATE certificates SET status = 'valid',"
                          " revoke_reason = NULL WHERE id = ?",
/* Orders that will never be used again: invalid (last changed before the
 * cut-off) or pending/ready and expired before it, with no certificate;
 * authorizations expired before it that no order uses. */
#define DEAD_ORDERS                                                            \
	"SELECT id FROM orders WHERE ((status = 'invalid' AND updated < ?1)"   \
	" OR (status IN ('pending', 'ready') AND expires < ?1)) AND NOT"       \
	" EXISTS (SELECT 1 FROM certificates WHERE order_id = orders.id)"
#define DEAD_AUTHZS                                                            \
	"SELECT id FROM authzs WHERE expires < ?1 AND NOT EXISTS (SELECT 1"    \
	" FROM order_authzs WHERE authz_id = authzs.id)"
    [ST_PURGE_ORDER_AUTHZS] = "DELETE FROM order_authzs WHERE order_id IN"
                              " (" DEAD_ORDERS ")",
    [ST_PURGE_ORDERS] = "DELETE FROM orders WHERE id IN (" DEAD_ORDERS ")",
    [ST_PURGE_CHALLENGES] = "DELETE FROM challenges WHERE authz_id IN"
                            " (" DEAD_AUTHZS ")",
    [ST_PURGE_AUTHZS] = "DELETE FROM authzs WHERE id IN (" DEAD_AUTHZS ")",
    [ST_PURGE_AUDIT] = "DELETE FROM audit WHERE ts < ?",
    [ST_ACCOUNT_ADD] = "INSERT INTO accounts(kid, jwk, thumbprint, status,"
                       " contact, tos_agreed, eab_kid, eab_binding,"
                       " connector, created) VALUES (?, ?, ?, 'valid', ?,"
                       " ?, ?, ?, ?, ?)",
    [ST_ORDER_ADD] = "INSERT INTO orders(oid, account_id, status, expires,"
                     " identifiers, connector, created, updated) VALUES (?,"
                     " ?, 'pending', ?, ?, ?, ?, ?)",
    [ST_AUTHZ_ADD] = "INSERT INTO authzs(aid, account_id, id_type, id_value,"
                     " wildcard, status, expires, created) VALUES (?, ?, ?,"
                     " ?, ?, 'pending', ?, ?)",
    [ST_ORDER_AUTHZ_LINK] = "INSERT OR IGNORE INTO order_authzs(order_id,"
                            " authz_id) VALUES (?, ?)",
    [ST_CHALL_ADD] = "INSERT INTO challenges(cid, authz_id, type, token,"
                     " status) VALUES (?, ?, ?, ?, 'pending')",
    /* the status guard makes two racing finalize calls enroll once */
    [ST_ORDER_FINALIZE] = "UPDATE orders SET status = 'processing', csr_pem"
                          " = ?, updated = ? WHERE id = ? AND status ="
                          " 'ready' AND expires >= ?",
    [ST_SYNC_OFF] = "PRAGMA synchronous=OFF",
    [ST_JOBS_FINISH_ALL] = "UPDATE jobs SET state = 'done', updated = ?"
                           " WHERE state = 'queued'",
};

_Static_assert(ST_COUNT <= ACME_DB_SLOTS, "statement table too large");
/* acme/store_dcv.c numbers its statements from slot 128 */
_Static_assert(ST_COUNT <= 128, "statement table runs into store_dcv.c's");

/* ---- statuses -------------------------------------------------------- */

static const char *const acct_words[] = {"valid", "deactivated", "revoked"};
static const char *const order_words[] = {
    "pending", "ready", "processing", "valid", "invalid"};
static const char *const chall_words[] = {
    "pending", "processing", "valid", "invalid"};

static int
word_of(const char *const *words, int n, const char *s)
{
	for (int i = 0; s != NULL && i < n; i++)
		if (strcmp(words[i], s) == 0)
			return i;
	return n; /* the UNKNOWN member */
}

const char *
acme_acct_status_str(enum acme_acct_status s)
{
	return s < ACME_ACCT_UNKNOWN ? acct_words[s] : "unknown";
}

enum acme_acct_status
acme_acct_status_of(const char *s)
{
	return (enum acme_acct_status)word_of(acct_words, ACME_ACCT_UNKNOWN, s);
}

const char *
acme_order_status_str(enum acme_order_status s)
{
	return s < ACME_ORDER_UNKNOWN ? order_words[s] : "unknown";
}

enum acme_order_status
acme_order_status_of(const char *s)
{
	return (enum acme_order_status)word_of(
	    order_words, ACME_ORDER_UNKNOWN, s);
}

const char *
acme_chall_status_str(enum acme_chall_status s)
{
	return s < ACME_CHALL_UNKNOWN ? chall_words[s] : "unknown";
}

enum acme_chall_status
acme_chall_status_of(const char *s)
{
	return (enum acme_chall_status)word_of(
	    chall_words, ACME_CHALL_UNKNOWN, s);
}

/* ---- helpers --------------------------------------------------------- */

/* ---- orders, challenges, certificates -------------------------------- */

void
acme_order_clear(struct acme_order *o)
{
	free(o->csr_pem);
	free(o->identifiers);
	free(o->error);
	free(o->name_set);
	memset(o, 0, sizeof(*o));
}

static enum acme_found
order_by(struct acme_db *db, enum stmt st, const char *oid, long long id,
    struct acme_order *out)
{
	struct acme_cur c;
	enum acme_found f;
	int oom = 0;

	memset(out, 0, sizeof(*out));
	f = one_row(oid != NULL ? acme_db_query(db, &c, st, sql[st], "s", oid)
	                        : acme_db_query(db, &c, st, sql[st], "i", id));
	if (f != ACME_FOUND)
		return f;
	out->id = acme_cur_int(&c, 0);
	out->account_id = acme_cur_int(&c, 1);
	COPY(out->oid, &c, 2);
	out->status = acme_order_status_of(acme_cur_text(&c, 3));
	out->enroll_state = (enum acme_enroll_state)acme_cur_int(&c, 4);
	COPY(out->connector, &c, 5);
	COPY(out->ca_ref, &c, 6);
	out->csr_pem = dup_col(&c, 7, &oom);
	out->identifiers = dup_col(&c, 8, &oom);
	out->expires = acme_cur_int(&c, 9);
	out->error = dup_col(&c, 10, &oom);
	COPY(out->crt_id, &c, 11);
	COPY(out->profile, &c, 12);
	COPY(out->replaces, &c, 13);
	out->predecessor = acme_cur_int(&c, 14);
	COPY(out->ca_status, &c, 15);
	out->name_set = dup_col(&c, 16, &oom);
	acme_cur_done(&c);
	if (oom || out->identifiers == NULL) {
		acme_order_clear(out);
		return ACME_ERR;
	}
	return ACME_FOUND;
}

enum acme_found
acme_store_order(struct acme_db *db, long long id, struct acme_order *out)
{
	return order_by(db, ST_ORDER, NULL, id, out);
}

enum acme_found
acme_store_order_by_oid(
    struct acme_db *db, const char *oid, struct acme_order *out)
{
	return order_by(db, ST_ORDER_BY_OID, oid, 0, out);
}

void
acme_chall_target_clear(struct acme_chall_target *t)
{
	free(t->jwk);
	memset(t, 0, sizeof(*t));
}

enum acme_found
acme_store_chall_target(
    struct acme_db *db, long long chall_id, struct acme_chall_target *out)
{
	struct acme_cur c;
	enum acme_found f;
	int oom = 0;

	memset(out, 0, sizeof(*out));
	f = one_row(acme_db_query(
	    db, &c, ST_CHALL_TARGET, sql[ST_CHALL_TARGET], "i", chall_id));
	if (f != ACME_FOUND)
		return f;
	out->account_id = acme_cur_int(&c, 0);
	out->status = acme_chall_status_of(acme_cur_text(&c, 1));
	COPY(out->type, &c, 2);
	COPY(out->token, &c, 3);
	COPY(out->id_type, &c, 4);
	COPY(out->id_value, &c, 5);
	out->jwk = dup_col(&c, 6, &oom);
	acme_cur_done(&c);
	if (oom || out->jwk == NULL) {
		acme_chall_target_clear(out);
		return ACME_ERR;
	}
	return ACME_FOUND;
}

enum acme_found
acme_store_cert_ref(
    struct acme_db *db, long long cert_id, struct acme_cert_ref *out)
{
	struct acme_cur c;
	enum acme_found f;

	memset(out, 0, sizeof(*out));
	f = one_row(
	    acme_db_query(db, &c, ST_CERT_REF, sql[ST_CERT_REF], "i", cert_id));
	if (f != ACME_FOUND)
		return f;
	COPY(out->ca_ref, &c, 0);
	COPY(out->connector, &c, 1);
	acme_cur_done(&c);
	return ACME_FOUND;
}

/* ---- administration -------------------------------------------------- */

int
acme_store_eab_add(struct acme_db *db, const char *kid, const char *hmac_b64url,
    const char *connector, const char *note, long long max_accounts,
    long long now)
{
	struct acme_cur c;

	if (run(acme_db_query(db, &c, ST_EAB_ADD, sql[ST_EAB_ADD], "ssssii",
	        kid, hmac_b64url, connector, note ? note : "", max_accounts,
	        now)) != 1 ||
	    run(acme_db_query(db, &c, ST_AUDIT, sql[ST_AUDIT], "isss", now,
	        "eab.add", kid, connector)) != 1)
		return -1;
	return 1;
}

int
acme_store_eab_each(struct acme_db *db,
    void (*fn)(const struct acme_eab_info *e, void *arg), void *arg)
{
	struct acme_cur c;
	int rc;

	if (acme_db_query(db, &c, ST_EAB_LIST, sql[ST_EAB_LIST], NULL) == NULL)
		return -1;
	while ((rc = acme_cur_next(&c)) == 1) {
		struct acme_eab_info e;

		memset(&e, 0, sizeof(e));
		COPY(e.kid, &c, 0);
		COPY(e.connector, &c, 1);
		COPY(e.note, &c, 2);
		e.created = acme_cur_int(&c, 3);
		e.max_accounts = acme_cur_int(&c, 4);
		e.accounts = acme_cur_int(&c, 5);
		COPY(e.preauth, &c, 6);
		fn(&e, arg);
	}
	acme_cur_done(&c);
	return rc == 0 ? 0 : -1;
}

int
acme_store_eab_remove(struct acme_db *db, const char *kid)
{
	struct acme_cur c;

	return run(
	    acme_db_query(db, &c, ST_EAB_REMOVE, sql[ST_EAB_REMOVE], "s", kid));
}

void
acme_account_clear(struct acme_account *a)
{
	free(a->contact);
	free(a->jwk);
	free(a->eab_binding);
	memset(a, 0, sizeof(*a));
}

static int
account_row(const struct acme_cur *c, struct acme_account *a)
{
	int oom = 0;

	memset(a, 0, sizeof(*a));
	a->id = acme_cur_int(c, 0);
	COPY(a->kid, c, 1);
	a->status = acme_acct_status_of(acme_cur_text(c, 2));
	a->created = acme_cur_int(c, 3);
	a->tos_agreed = (int)acme_cur_int(c, 4);
	COPY(a->eab_kid, c, 5);
	COPY(a->connector, c, 6);
	COPY(a->thumbprint, c, 7);
	a->orders = acme_cur_int(c, 8);
	a->contact = dup_col(c, 9, &oom);
	a->jwk = dup_col(c, 10, &oom);
	a->eab_binding = dup_col(c, 11, &oom);
	if (oom) {
		acme_account_clear(a);
		return -1;
	}
	return 0;
}

static enum acme_found
account_by(struct acme_db *db, enum stmt st, const char *fmt, const char *s,
    long long i, struct acme_account *out)
{
	struct acme_cur c;
	enum acme_found f;
	int rc;

	memset(out, 0, sizeof(*out));
	f = one_row(fmt[0] == 's' ? acme_db_query(db, &c, st, sql[st], "s", s)
	                          : acme_db_query(db, &c, st, sql[st], "i", i));
	if (f != ACME_FOUND)
		return f;
	rc = account_row(&c, out);
	acme_cur_done(&c);
	return rc == 0 ? ACME_FOUND : ACME_ERR;
}

enum acme_found
acme_store_account(
    struct acme_db *db, const char *kid, struct acme_account *out)
{
	return account_by(db, ST_ACCOUNT, "s", kid, 0, out);
}

enum acme_found
acme_store_account_auth(
    struct acme_db *db, const char *kid, struct acme_account *out)
{
	return account_by(db, ST_ACCT_AUTH, "s", kid, 0, out);
}

enum acme_found
acme_store_account_by_id(
    struct acme_db *db, long long id, struct acme_account *out)
{
	return account_by(db, ST_ACCT_BY_ID, "i", NULL, id, out);
}

enum acme_found
acme_store_account_by_thumb(
    struct acme_db *db, const char *thumb, struct acme_account *out)
{
	return account_by(db, ST_ACCT_BY_THUMB, "s", thumb, 0, out);
}

int
acme_store_account_each(struct acme_db *db,
    void (*fn)(const struct acme_account *a, void *arg), void *arg)
{
	struct acme_cur c;
	int rc;

	if (acme_db_query(
	        db, &c, ST_ACCOUNT_LIST, sql[ST_ACCOUNT_LIST], NULL) == NULL)
		return -1;
	while ((rc = acme_cur_next(&c)) == 1) {
		struct acme_account a;

		if (account_row(&c, &a) != 0) {
			rc = -1;
			break;
		}
		fn(&a, arg);
		acme_account_clear(&a);
	}
	acme_cur_done(&c);
	return rc == 0 ? 0 : -1;
}

int
acme_store_accounts_deactivate(struct acme_db *db, int by_eab, const char *ref,
    const char *why, long long now)
{
	enum stmt audit = by_eab ? ST_DEACT_AUDIT_EAB : ST_DEACT_AUDIT_KID;
	enum stmt authzs = by_eab ? ST_DEACT_AUTHZS_EAB : ST_DEACT_AUTHZS_KID;
	enum stmt accts =
	    by_eab ? ST_DEACT_ACCOUNTS_EAB : ST_DEACT_ACCOUNTS_KID;
	struct acme_cur c;

	if (run(acme_db_query(
	        db, &c, audit, sql[audit], "iss", now, why, ref)) < 0 ||
	    run(acme_db_query(db, &c, authzs, sql[authzs], "s", ref)) < 0)
		return -1;
	return run(acme_db_query(db, &c, accts, sql[accts], "s", ref));
}

/* ---- the job queue --------------------------------------------------- */

int
acme_job_add(struct acme_db *db, const char *kind, long long ref, long long arg,
    long long now)
{
	struct acme_cur c;

	return run(acme_db_query(db, &c, ST_JOB_ADD, sql[ST_JOB_ADD], "siiiii",
	           kind, ref, arg, now * 1000, now, now)) == 1
	    ? 0
	    : -1;
}

static int
jobs_due(struct acme_db *db, enum stmt st, long long now_ms,
    struct acme_job *out, int max)
{
	struct acme_cur c;
	int n = 0, rc;

	if (max <= 0)
		return 0;
	if (acme_db_query(db, &c, st, sql[st], "ii", now_ms, (long long)max) ==
	    NULL)
		return -1;
	while (n < max && (rc = acme_cur_next(&c)) == 1) {
		out[n].id = acme_cur_int(&c, 0);
		COPY(out[n].kind, &c, 1);
		out[n].ref = acme_cur_int(&c, 2);
		out[n].arg = acme_cur_int(&c, 3);
		out[n].attempts = (int)acme_cur_int(&c, 4);
		out[n].created = acme_cur_int(&c, 5);
		n++;
	}
	acme_cur_done(&c);
	return rc < 0 ? -1 : n;
}

int
acme_jobs_due(
    struct acme_db *db, long long now_ms, struct acme_job *out, int max)
{
	return jobs_due(db, ST_JOBS_DUE, now_ms, out, max);
}

int
acme_jobs_due_pool(struct acme_db *db, long long now_ms,
    enum acme_job_pool pool, struct acme_job *out, int max)
{
	return jobs_due(db,
	    pool == ACME_POOL_VALIDATE ? ST_JOBS_DUE_VALIDATE : ST_JOBS_DUE_CA,
	    now_ms, out, max);
}

int
acme_job_retry(struct acme_db *db, long long job_id, long long next_ms,
    const char *error, long long now)
{
	struct acme_cur c;
	char ref[32];

	snprintf(ref, sizeof(ref), "job=%lld", job_id);
	if (acme_db_begin(db) != 0)
		return -1;
	/* the audit log keeps every failed CA or validation attempt, not
	 * only the last error the job row holds */
	if (run(acme_db_query(db, &c, ST_JOB_RETRY, sql[ST_JOB_RETRY], "isii",
	        next_ms, error, now, job_id)) < 0 ||
	    run(acme_db_query(db, &c, ST_AUDIT, sql[ST_AUDIT], "isss", now,
	        "job.retry", ref, error ? error : "")) < 0) {
		acme_db_rollback(db);
		return -1;
	}
	return acme_db_commit(db);
}

int
acme_jobs_purge(struct acme_db *db, long long before)
{
	struct acme_cur c;

	return run(acme_db_query(
	    db, &c, ST_JOBS_PURGE, sql[ST_JOBS_PURGE], "i", before));
}

/* ---- job state changes (acme/state.c composes them) ------------------ */

/* One change through the table: rows changed or -1. */
static int
change(struct acme_db *db, enum stmt st, const char *fmt, ...)
{
	struct acme_cur c;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = run(acme_db_vquery(db, &c, (int)st, sql[st], fmt, ap));
	va_end(ap);
	return rc;
}

int
acme_store_audit(struct acme_db *db, long long now, const char *event,
    const char *ref, const char *detail)
{
	return change(
	    db, ST_AUDIT, "isss", now, event, ref, detail ? detail : "");
}

int
acme_store_job_finish(struct acme_db *db, long long job_id, int failed,
    const char *error, long long now)
{
	return change(db, ST_JOB_FINISH, "ssii", failed ? "failed" : "done",
	    error, now, job_id);
}

int
acme_store_job_attempted(struct acme_db *db, long long job_id, long long now)
{
	return change(db, ST_JOB_ATTEMPTED, "ii", now, job_id);
}

int
acme_store_job_to_collect(struct acme_db *db, long long job_id, long long now)
{
	return change(db, ST_JOB_TO_COLLECT, "iii", now * 1000, now, job_id);
}

static const char *const authz_words[] = {
    "pending", "valid", "invalid", "deactivated", "expired", "revoked"};

enum acme_authz_status
acme_authz_status_of(const char *s)
{
	return (enum acme_authz_status)word_of(
	    authz_words, ACME_AUTHZ_UNKNOWN, s);
}

const char *
acme_authz_status_str(enum acme_authz_status s)
{
	return s < ACME_AUTHZ_UNKNOWN ? authz_words[s] : "unknown";
}

enum acme_found
acme_store_chall_state(
    struct acme_db *db, long long chall_id, struct acme_chall_state *out)
{
	struct acme_cur c;
	enum acme_found f;

	memset(out, 0, sizeof(*out));
	f = one_row(acme_db_query(
	    db, &c, ST_CHALL_STATE, sql[ST_CHALL_STATE], "i", chall_id));
	if (f != ACME_FOUND)
		return f;
	out->id = acme_cur_int(&c, 0);
	out->status = acme_chall_status_of(acme_cur_text(&c, 1));
	out->authz_id = acme_cur_int(&c, 2);
	out->authz_status = acme_authz_status_of(acme_cur_text(&c, 3));
	out->authz_expires = acme_cur_int(&c, 4);
	COPY(out->id_value, &c, 5);
	COPY(out->id_type, &c, 6);
	acme_cur_done(&c);
	return ACME_FOUND;
}

int
acme_store_chall_valid(struct acme_db *db, long long chall_id, long long now)
{
	return change(db, ST_CHALL_VALID, "ii", now, chall_id);
}

int
acme_store_chall_invalid(
    struct acme_db *db, long long chall_id, const char *error_json)
{
	return change(db, ST_CHALL_INVALID, "si", error_json, chall_id);
}

int
acme_store_authz_valid(
    struct acme_db *db, long long authz_id, long long expires)
{
	return change(db, ST_AUTHZ_VALID, "ii", expires, authz_id);
}

int
acme_store_authz_invalid(struct acme_db *db, long long authz_id)
{
	return change(db, ST_AUTHZ_INVALID, "i", authz_id);
}

int
acme_store_orders_ready(struct acme_db *db, long long authz_id, long long now)
{
	return change(db, ST_ORDERS_READY, "ii", now, authz_id);
}

int
acme_store_orders_invalidate(struct acme_db *db, long long authz_id,
    const char *error_json, long long now)
{
	return change(
	    db, ST_ORDERS_INVALIDATE, "sii", error_json, now, authz_id);
}

int
acme_store_order_sending(struct acme_db *db, long long order_id, long long now)
{
	return change(db, ST_ORDER_SENDING, "ii", now, order_id);
}

int
acme_store_order_enrolled(
    struct acme_db *db, long long order_id, const char *ca_ref, long long now)
{
	return change(db, ST_ORDER_ENROLLED, "sii", ca_ref, now, order_id);
}

int
acme_store_order_fail(struct acme_db *db, long long order_id,
    const char *error_json, long long now)
{
	return change(db, ST_ORDER_FAIL, "sii", error_json, now, order_id);
}

long long
acme_store_cert_add(struct acme_db *db, const struct acme_cert_new *c)
{
	if (change(db, ST_CERT_ADD, "siisssiississsiss", c->crt_id, c->order_id,
	        c->account_id, c->serial_hex, c->spki_sha256, c->chain_pem,
	        c->not_before, c->not_after, c->connector, c->ca_ref,
	        c->created, c->profile, c->names, c->aki, c->predecessor,
	        c->alt_chain_pem, c->source) != 1)
		return -1;
	return acme_db_last_id(db);
}

int
acme_store_order_issued(
    struct acme_db *db, long long order_id, long long cert_id, long long now)
{
	return change(db, ST_ORDER_ISSUED, "iii", cert_id, now, order_id);
}

int
acme_store_cert_revoked(struct acme_db *db, long long cert_id, int revoked)
{
	return change(
	    db, revoked ? ST_CERT_REVOKED : ST_CERT_UNREVOKED, "i", cert_id);
}

int
acme_store_purge(struct acme_db *db, long long before, long long audit_before)
{
	int n, total = 0;

	if (change(db, ST_PURGE_ORDER_AUTHZS, "i", before) < 0 ||
	    (n = change(db, ST_PURGE_ORDERS, "i", before)) < 0)
		return -1;
	total += n;
	if (change(db, ST_PURGE_CHALLENGES, "i", before) < 0 ||
	    (n = change(db, ST_PURGE_AUTHZS, "i", before)) < 0)
		return -1;
	total += n;
	if (audit_before > 0 &&
	    change(db, ST_PURGE_AUDIT, "i", audit_before) < 0)
		return -1;
	return total;
}

/* ---- new objects ------------------------------------------------------ */

/* An INSERT through the table: the new row's id, or -1. */
static long long
insert(struct acme_db *db, enum stmt st, const char *fmt, ...)
{
	struct acme_cur c;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = run(acme_db_vquery(db, &c, (int)st, sql[st], fmt, ap));
	va_end(ap);
	return rc == 1 ? acme_db_last_id(db) : -1;
}

long long
acme_store_account_add(struct acme_db *db, const struct acme_account_new *a)
{
	return insert(db, ST_ACCOUNT_ADD, "ssssisssi", a->kid, a->jwk,
	    a->thumbprint, a->contact ? a->contact : "[]",
	    (long long)a->tos_agreed, a->eab_kid, a->eab_binding, a->connector,
	    a->created);
}

long long
acme_store_order_add(struct acme_db *db, const char *oid, long long account_id,
    long long expires, const char *identifiers, const char *connector,
    long long now)
{
	return insert(db, ST_ORDER_ADD, "siissii", oid, account_id, expires,
	    identifiers, connector, now, now);
}

long long
acme_store_authz_add(struct acme_db *db, const char *aid, long long account_id,
    const char *id_type, const char *id_value, int wildcard, long long expires,
    long long now)
{
	return insert(db, ST_AUTHZ_ADD, "sissiii", aid, account_id, id_type,
	    id_value, (long long)wildcard, expires, now);
}

int
acme_store_order_authz_link(
    struct acme_db *db, long long order_id, long long authz_id)
{
	return change(db, ST_ORDER_AUTHZ_LINK, "ii", order_id, authz_id);
}

long long
acme_store_chall_add(struct acme_db *db, const char *cid, long long authz_id,
    const char *type, const char *token)
{
	return insert(db, ST_CHALL_ADD, "siss", cid, authz_id, type, token);
}

int
acme_store_order_finalize(
    struct acme_db *db, long long order_id, const char *csr_pem, long long now)
{
	return change(
	    db, ST_ORDER_FINALIZE, "siii", csr_pem, now, order_id, now);
}

int
acme_store_unsynced(struct acme_db *db)
{
	struct acme_cur c;

	return run(acme_db_query(db, &c, ST_SYNC_OFF, sql[ST_SYNC_OFF], NULL)) <
	        0
	    ? -1
	    : 0;
}

int
acme_store_jobs_finish_all(struct acme_db *db, long long now)
{
	return change(db, ST_JOBS_FINISH_ALL, "i", now);
}

int
acme_store_eab_set_preauth(
    struct acme_db *db, const char *kid, const char *patterns_json)
{
	return change(db, ST_EAB_PREAUTH_SET, "ss", patterns_json, kid);
}

enum acme_found
acme_store_account_preauth(
    struct acme_db *db, long long account_id, char *out, size_t len)
{
	struct acme_cur c;
	int rc;

	out[0] = '\0';
	if (acme_db_query(db, &c, ST_ACCOUNT_PREAUTH, sql[ST_ACCOUNT_PREAUTH],
	        "i", account_id) == NULL)
		return ACME_ERR;
	rc = acme_cur_next(&c);
	if (rc == 1)
		snprintf(out, len, "%s", acme_cur_text(&c, 0));
	acme_cur_done(&c);
	return rc < 0 ? ACME_ERR : rc == 1 ? ACME_FOUND : ACME_NONE;
}

int
acme_store_account_contact(
    struct acme_db *db, long long id, const char *contact_json)
{
	return change(db, ST_ACCT_CONTACT, "si", contact_json, id);
}

int
acme_store_account_deactivate(struct acme_db *db, long long id)
{
	int n = change(db, ST_ACCT_DEACT, "i", id);

	if (n < 0 || change(db, ST_ACCT_DEACT_AUTHZS, "i", id) < 0)
		return -1;
	return n;
}

int
acme_store_account_key(
    struct acme_db *db, long long id, const char *jwk, const char *thumb)
{
	return change(db, ST_ACCT_KEY, "ssi", jwk, thumb, id);
}

enum acme_found
acme_store_eab_get(struct acme_db *db, const char *kid, struct acme_eab *out)
{
	struct acme_cur c;
	enum acme_found f;

	memset(out, 0, sizeof(*out));
	f = one_row(
	    acme_db_query(db, &c, ST_EAB_GET, sql[ST_EAB_GET], "s", kid));
	if (f != ACME_FOUND)
		return f;
	COPY(out->kid, &c, 0);
	COPY(out->hmac_key, &c, 1);
	COPY(out->connector, &c, 2);
	out->max_accounts = acme_cur_int(&c, 3);
	acme_cur_done(&c);
	return ACME_FOUND;
}

long long
acme_store_eab_bound(struct acme_db *db, const char *kid)
{
	struct acme_cur c;
	long long n;

	if (one_row(acme_db_query(db, &c, ST_EAB_BOUND, sql[ST_EAB_BOUND], "s",
	        kid)) != ACME_FOUND)
		return -1;
	n = acme_cur_int(&c, 0);
	acme_cur_done(&c);
	return n;
}

int
acme_store_account_orders(struct acme_db *db, long long account_id,
    long long after, int limit,
    void (*fn)(long long id, const char *oid, void *arg), void *arg)
{
	struct acme_cur c;
	int n = 0, rc;

	if (acme_db_query(db, &c, ST_ACCT_ORDERS, sql[ST_ACCT_ORDERS], "iii",
	        account_id, after, (long long)limit) == NULL)
		return -1;
	while ((rc = acme_cur_next(&c)) == 1) {
		fn(acme_cur_int(&c, 0), acme_cur_text(&c, 1), arg);
		n++;
	}
	acme_cur_done(&c);
	return rc < 0 ? -1 : n;
}

void
acme_cert_clear(struct acme_cert *c)
{
	free(c->chain_pem);
	free(c->identifiers);
	memset(c, 0, sizeof(*c));
}

static enum acme_found
cert_by(struct acme_cur *cur, struct acme_cert *out)
{
	enum acme_found f = one_row(cur);
	const char *st;
	int oom = 0;

	memset(out, 0, sizeof(*out));
	if (f != ACME_FOUND)
		return f;
	out->id = acme_cur_int(cur, 0);
	out->account_id = acme_cur_int(cur, 1);
	st = acme_cur_text(cur, 2);
	out->status = strcmp(st, "valid") == 0 ? ACME_CERT_VALID
	    : strcmp(st, "revoking") == 0      ? ACME_CERT_REVOKING
	                                       : ACME_CERT_REVOKED;
	COPY(out->crt_id, cur, 3);
	out->chain_pem = dup_col(cur, 4, &oom);
	out->identifiers = dup_col(cur, 5, &oom);
	acme_cur_done(cur);
	if (oom || out->chain_pem == NULL) {
		acme_cert_clear(out);
		return ACME_ERR;
	}
	return ACME_FOUND;
}

enum acme_found
acme_store_cert_by_crt_id(
    struct acme_db *db, const char *crt_id, struct acme_cert *out)
{
	struct acme_cur c;

	return cert_by(acme_db_query(db, &c, ST_CERT_BY_CRT,
	                   sql[ST_CERT_BY_CRT], "s", crt_id),
	    out);
}

enum acme_found
acme_store_cert_by_key(struct acme_db *db, const char *serial_hex,
    const char *spki_sha256, struct acme_cert *out)
{
	struct acme_cur c;

	return cert_by(acme_db_query(db, &c, ST_CERT_BY_KEY,
	                   sql[ST_CERT_BY_KEY], "ss", serial_hex, spki_sha256),
	    out);
}

int
acme_store_cert_revoking(struct acme_db *db, long long cert_id, int reason)
{
	return change(db, ST_CERT_REVOKING, "ii", (long long)reason, cert_id);
}

long long
acme_store_job_add_id(struct acme_db *db, const char *kind, long long ref,
    long long arg, long long now)
{
	if (acme_job_add(db, kind, ref, arg, now) != 0)
		return -1;
	return acme_db_last_id(db);
}

enum acme_found
acme_store_job_queued_for(
    struct acme_db *db, const char *kind, long long ref, long long *job_id)
{
	struct acme_cur c;
	enum acme_found f = one_row(acme_db_query(db, &c, ST_JOB_QUEUED_FOR,
	    sql[ST_JOB_QUEUED_FOR], "si", kind, ref));

	*job_id = 0;
	if (f == ACME_FOUND) {
		*job_id = acme_cur_int(&c, 0);
		acme_cur_done(&c);
	}
	return f;
}

enum acme_found
acme_store_job_state(
    struct acme_db *db, long long job_id, struct acme_job_state *out)
{
	struct acme_cur c;
	enum acme_found f = one_row(acme_db_query(
	    db, &c, ST_JOB_STATE, sql[ST_JOB_STATE], "i", job_id));

	memset(out, 0, sizeof(*out));
	if (f == ACME_FOUND) {
		const char *st = acme_cur_text(&c, 0);
		out->state = strcmp(st, "queued") == 0 ? ACME_JOB_QUEUED
		    : strcmp(st, "done") == 0          ? ACME_JOB_DONE
		                                       : ACME_JOB_FAILED;
		COPY(out->last_error, &c, 1);
		acme_cur_done(&c);
	}
	return f;
}

enum acme_found
acme_store_authz_held(struct acme_db *db, long long account_id,
    const char *id_type, const char *id_value, long long now)
{
	struct acme_cur c;
	enum acme_found f = one_row(acme_db_query(db, &c, ST_AUTHZ_HELD,
	    sql[ST_AUTHZ_HELD], "issi", account_id, id_type, id_value, now));

	if (f == ACME_FOUND)
		acme_cur_done(&c);
	return f;
}

static void
authz_row(const struct acme_cur *c, int off, struct acme_authz *a)
{
	memset(a, 0, sizeof(*a));
	a->id = acme_cur_int(c, off);
	COPY(a->aid, c, off + 1);
	a->account_id = acme_cur_int(c, off + 2);
	COPY(a->id_type, c, off + 3);
	COPY(a->id_value, c, off + 4);
	a->wildcard = (int)acme_cur_int(c, off + 5);
	a->status = acme_authz_status_of(acme_cur_text(c, off + 6));
	a->expires = acme_cur_int(c, off + 7);
	a->created = acme_cur_int(c, off + 8);
}

void
acme_chall_clear(struct acme_chall *ch)
{
	free(ch->error);
	memset(ch, 0, sizeof(*ch));
}

static int
chall_row(const struct acme_cur *c, struct acme_chall *ch)
{
	int oom = 0;

	memset(ch, 0, sizeof(*ch));
	ch->id = acme_cur_int(c, 0);
	COPY(ch->cid, c, 1);
	ch->authz_id = acme_cur_int(c, 2);
	COPY(ch->type, c, 3);
	COPY(ch->token, c, 4);
	ch->status = acme_chall_status_of(acme_cur_text(c, 5));
	ch->validated = acme_cur_int(c, 6);
	ch->error = dup_col(c, 7, &oom);
	return oom ? -1 : 0;
}

enum acme_found
acme_store_authz_by_aid(
    struct acme_db *db, const char *aid, struct acme_authz *out)
{
	struct acme_cur c;
	enum acme_found f = one_row(acme_db_query(
	    db, &c, ST_AUTHZ_BY_AID, sql[ST_AUTHZ_BY_AID], "s", aid));

	memset(out, 0, sizeof(*out));
	if (f == ACME_FOUND) {
		authz_row(&c, 0, out);
		acme_cur_done(&c);
	}
	return f;
}

int
acme_store_authz_challs(struct acme_db *db, long long authz_id,
    void (*fn)(const struct acme_chall *ch, void *arg), void *arg)
{
	struct acme_cur c;
	struct acme_chall ch;
	int n = 0, rc;

	if (acme_db_query(db, &c, ST_AUTHZ_CHALLS, sql[ST_AUTHZ_CHALLS], "i",
	        authz_id) == NULL)
		return -1;
	while ((rc = acme_cur_next(&c)) == 1) {
		if (chall_row(&c, &ch) != 0) {
			acme_chall_clear(&ch);
			rc = -1;
			break;
		}
		fn(&ch, arg);
		acme_chall_clear(&ch);
		n++;
	}
	acme_cur_done(&c);
	return rc < 0 ? -1 : n;
}

enum acme_found
acme_store_chall_by_cid(struct acme_db *db, const char *cid,
    struct acme_chall *ch, struct acme_authz *az)
{
	struct acme_cur c;
	enum acme_found f = one_row(acme_db_query(
	    db, &c, ST_CHALL_BY_CID, sql[ST_CHALL_BY_CID], "s", cid));
	int rc;

	memset(ch, 0, sizeof(*ch));
	memset(az, 0, sizeof(*az));
	if (f != ACME_FOUND)
		return f;
	rc = chall_row(&c, ch);
	authz_row(&c, 8, az);
	acme_cur_done(&c);
	if (rc != 0) {
		acme_chall_clear(ch);
		return ACME_ERR;
	}
	return ACME_FOUND;
}

int
acme_store_authz_deactivate(
    struct acme_db *db, long long authz_id, long long now)
{
	int n = change(db, ST_AUTHZ_DEACT, "ii", authz_id, now);

	if (n == 1 &&
	    change(db, ST_AUTHZ_DEACT_ORDERS, "ii", now, authz_id) < 0)
		return -1;
	return n;
}

int
acme_store_chall_start(
    struct acme_db *db, long long chall_id, long long authz_id, long long now)
{
	return change(
	    db, ST_CHALL_START, "iiii", chall_id, authz_id, authz_id, now);
}

int
acme_store_order_aids(struct acme_db *db, long long order_id,
    void (*fn)(const char *aid, void *arg), void *arg)
{
	struct acme_cur c;
	int n = 0, rc;

	if (acme_db_query(db, &c, ST_ORDER_AIDS, sql[ST_ORDER_AIDS], "i",
	        order_id) == NULL)
		return -1;
	while ((rc = acme_cur_next(&c)) == 1) {
		fn(acme_cur_text(&c, 0), arg);
		n++;
	}
	acme_cur_done(&c);
	return rc < 0 ? -1 : n;
}

/* A count(*) statement bound to two integers. */
static long long
count2(struct acme_db *db, enum stmt st, long long a, long long b)
{
	struct acme_cur c;
	long long n;

	if (one_row(acme_db_query(db, &c, st, sql[st], "ii", a, b)) !=
	    ACME_FOUND)
		return -1;
	n = acme_cur_int(&c, 0);
	acme_cur_done(&c);
	return n;
}

long long
acme_store_order_lapsed(struct acme_db *db, long long order_id, long long now)
{
	return count2(db, ST_ORDER_LAPSED, order_id, now);
}

long long
acme_store_order_unfit(struct acme_db *db, long long order_id, long long now)
{
	return count2(db, ST_ORDER_UNFIT, order_id, now);
}

long long
acme_store_pending_authzs(
    struct acme_db *db, long long account_id, long long now)
{
	return count2(db, ST_PENDING_AUTHZS, account_id, now);
}

int
acme_store_order_invalidate_ready(
    struct acme_db *db, long long order_id, long long now)
{
	return change(db, ST_ORDER_INVALID_READY, "ii", now, order_id);
}

int
acme_store_order_set_ready(struct acme_db *db, long long order_id)
{
	return change(db, ST_ORDER_SET_READY, "i", order_id);
}

enum acme_found
acme_store_authz_reusable(struct acme_db *db, long long account_id,
    const char *id_type, const char *id_value, int wildcard,
    long long min_expires, long long *authz_id)
{
	struct acme_cur c;
	enum acme_found f = one_row(acme_db_query(db, &c, ST_AUTHZ_REUSE,
	    sql[ST_AUTHZ_REUSE], "issii", account_id, id_type, id_value,
	    (long long)wildcard, min_expires));

	*authz_id = 0;
	if (f == ACME_FOUND) {
		*authz_id = acme_cur_int(&c, 0);
		acme_cur_done(&c);
	}
	return f;
}
