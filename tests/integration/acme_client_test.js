// SPDX-License-Identifier: Apache-2.0
//
// npm acme-client against acmebridge; driven by test_client_acmejs.sh.
// Environment: BRIDGE_DIR_URL, HTTP01_PORT, ZONE, OUT (output directory);
// the bridge's certificate is trusted through NODE_EXTRA_CA_CERTS.
// Writes $OUT/cert.pem (the downloaded chain) and $OUT/result.json.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const acme = require('acme-client');

const directoryUrl = mustEnv('BRIDGE_DIR_URL');
const http01Port = Number(mustEnv('HTTP01_PORT'));
const zone = mustEnv('ZONE');
const out = mustEnv('OUT');

const clientOpts = { backoffAttempts: 30, backoffMin: 500, backoffMax: 3000 };
const names = [`js.${zone}`, `js2.${zone}`];
const result = {};
let checks = 0;

function mustEnv(name) {
    const v = process.env[name];
    if (!v) {
        throw new Error(`environment variable ${name} is not set`);
    }
    return v;
}

function ok(msg) {
    checks += 1;
    console.log(`ok ${checks} - ${msg}`);
}

function check(cond, msg, detail) {
    if (!cond) {
        const d = detail === undefined ? '' : `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`;
        throw new Error(`${msg}${d}`);
    }
    ok(msg);
}

// A problem document of RESP has TYPE (urn:ietf:params:acme:error:TYPE).
function isProblem(resp, status, type) {
    return resp.status === status && resp.data && resp.data.type === `urn:ietf:params:acme:error:${type}`;
}

function describe(resp) {
    return { status: resp.status, body: resp.data };
}

// DER of the first certificate of a PEM chain, base64url.
function leafB64u(chainPem) {
    const leaf = acme.crypto.splitPemChain(chainPem)[0];
    return acme.crypto.getPemBodyAsB64u(leaf);
}

function startHttp01Server(tokens, hits) {
    const prefix = '/.well-known/acme-challenge/';
    const server = http.createServer((req, res) => {
        const token = req.url.startsWith(prefix) ? req.url.slice(prefix.length) : null;
        hits.push({ host: req.headers.host, url: req.url });
        if (token && tokens.has(token)) {
            res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
            res.end(tokens.get(token));
        }
        else {
            res.writeHead(404);
            res.end('not found');
        }
    });
    return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(http01Port, '127.0.0.1', () => resolve(server));
    });
}

async function main() {
    const tokens = new Map();
    const hits = [];
    const server = await startHttp01Server(tokens, hits);

    try {
        // ---- account
        const accountKey = await acme.crypto.createPrivateKey();
        const client = new acme.Client({ directoryUrl, accountKey, ...clientOpts });
        const account = await client.createAccount({
            termsOfServiceAgreed: true,
            contact: [`mailto:acmejs@${zone}`],
        });
        const accountUrl = client.getAccountUrl();
        check(account.status === 'valid', 'new account is valid', account);
        check(typeof account.orders === 'string' && account.orders.startsWith('https://'),
            'account object carries an orders URL', account);

        // ---- order with http-01
        let order = await client.createOrder({
            identifiers: names.map((value) => ({ type: 'dns', value })),
        });
        const orderUrl = order.url;
        check(order.status === 'pending', 'new order is pending', order);
        check(Array.isArray(order.authorizations) && order.authorizations.length === names.length,
            'order has one authorization per name', order);
        const authzs = await client.getAuthorizations(order);
        for (const authz of authzs) {
            check(authz.status === 'pending' && names.includes(authz.identifier.value),
                `authorization for ${authz.identifier.value} is pending`, authz);
            const challenge = authz.challenges.find((c) => c.type === 'http-01');
            check(challenge && challenge.status === 'pending' && challenge.token,
                `authorization for ${authz.identifier.value} offers a pending http-01 challenge`, authz);
            tokens.set(challenge.token, await client.getChallengeKeyAuthorization(challenge));
            await client.completeChallenge(challenge);
            await client.waitForValidStatus(challenge);
            const after = (await client.api.apiRequest(authz.url, null, [200])).data;
            check(after.status === 'valid', `authorization for ${authz.identifier.value} is valid`, after);
        }
        for (const name of names) {
            check(hits.some((h) => h.host && h.host.split(':')[0] === name),
                `bridge fetched the http-01 resource with Host: ${name}`, hits);
        }
        order = await client.getOrder(order);
        check(order.status === 'ready', 'order is ready after its authorizations', order);

        // ---- finalize + download
        const certKey = await acme.crypto.createPrivateEcdsaKey();
        const [, csr] = await acme.crypto.createCsr({ commonName: names[0], altNames: names }, certKey);
        const finalized = await client.finalizeOrder(order, csr);
        check(['processing', 'valid'].includes(finalized.status),
            'finalize answers processing or valid', finalized);
        order = await client.waitForValidStatus(finalized);
        check(order.status === 'valid' && typeof order.certificate === 'string',
            'order is valid with a certificate URL', order);
        const cert = await client.getCertificate(order);
        check(acme.crypto.splitPemChain(cert).length >= 2, 'certificate download is a PEM chain', cert);
        fs.writeFileSync(path.join(out, 'cert.pem'), cert);
        const info = acme.crypto.readCertificateInfo(cert);
        result.serial = info.serial;

        // ---- the account's orders list
        const list = await client.api.apiRequest(account.orders, null, []);
        check(list.status === 200 && list.data && Array.isArray(list.data.orders),
            'account orders URL answers {"orders": [...]}', describe(list));
        check(list.data.orders.includes(orderUrl), 'orders list contains the order', { orderUrl, list: describe(list) });

        // ---- key change (RFC 8555 7.3.5)
        const newAccountKey = await acme.crypto.createPrivateKey();
        await client.updateAccountKey(newAccountKey);
        const again = await client.api.apiRequest(accountUrl, null, []);
        check(again.status === 200 && again.data.status === 'valid',
            'account reachable with the new key after keyChange', describe(again));
        const oldKeyClient = new acme.Client({ directoryUrl, accountKey, ...clientOpts });
        const lookup = await oldKeyClient.api.apiResourceRequest('newAccount',
            { onlyReturnExisting: true }, [], { includeJwsKid: false });
        check(isProblem(lookup, 400, 'accountDoesNotExist'),
            'old key no longer finds the account (accountDoesNotExist)', describe(lookup));

        // ---- revocation signed with the certificate key (jwk, RFC 8555 7.6)
        const certKeyClient = new acme.Client({ directoryUrl, accountKey: certKey, ...clientOpts });
        const revoke = await certKeyClient.api.apiResourceRequest('revokeCert',
            { certificate: leafB64u(cert), reason: 1 }, [], { includeJwsKid: false });
        check(revoke.status === 200, 'revokeCert signed with the certificate key succeeds', describe(revoke));
        const revoke2 = await client.api.apiResourceRequest('revokeCert',
            { certificate: leafB64u(cert) }, []);
        check(isProblem(revoke2, 400, 'alreadyRevoked'),
            'second revokeCert (by the account) is refused with alreadyRevoked', describe(revoke2));

        // ---- deactivation (RFC 8555 7.3.6)
        const deact = await client.updateAccount({ status: 'deactivated' });
        check(deact.status === 'deactivated', 'account deactivated', deact);
        const after = await client.api.apiRequest(accountUrl, null, []);
        check(isProblem(after, 401, 'unauthorized'),
            'request with the deactivated account is refused with 401 unauthorized', describe(after));
        const order2 = await client.api.apiResourceRequest('newOrder',
            { identifiers: [{ type: 'dns', value: `js3.${zone}` }] }, []);
        check(isProblem(order2, 401, 'unauthorized'),
            'newOrder with the deactivated account is refused with 401 unauthorized', describe(order2));

        fs.writeFileSync(path.join(out, 'result.json'), JSON.stringify(result));
        console.log(`${checks} passed, 0 failed`);
    }
    finally {
        server.close();
    }
}

main().catch((err) => {
    console.error(`not ok ${checks + 1} - ${err.message}`);
    if (err.stack) {
        console.error(err.stack);
    }
    process.exit(1);
});
