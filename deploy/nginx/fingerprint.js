// SHA-256 of the verified client certificate (DER), lower-case hex, for
// cpos's client-certificate pinning behind this proxy. nginx's own
// $ssl_client_fingerprint is SHA-1, which cpos does not accept.
function sha256(r) {
    var pem = r.variables.ssl_client_raw_cert;
    if (!pem) {
        return '';
    }
    var b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    return require('crypto').createHash('sha256')
        .update(Buffer.from(b64, 'base64'))
        .digest('hex');
}

export default { sha256 };
