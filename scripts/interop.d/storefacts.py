"""What a store answers to each request form s3push may send, asked by a client that is
not s3push: raw HTTP/1.1 requests signed with botocore's SigV4 signer (aws-chunked bodies
and their chunk and trailer signatures made here, by the S3 developer guide's rules), and
boto3. Printed after each store's tables; never a failure of the harness: it tells the
s3push developer whether a refusal comes from the store or from s3push's own bytes."""
import base64
import hashlib
import hmac
import http.client
import re
import urllib.parse
import zlib

EMPTY_SHA = hashlib.sha256(b"").hexdigest()
DATA = bytes(range(256)) * 300  # 76,800 bytes: several 8 KiB chunks and a short one


def _crc64nvme(data):
    poly, crc = 0x9A6C9329AC4BC9B5, 0xFFFFFFFFFFFFFFFF
    table = _crc64nvme.table
    if table is None:
        table = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ poly if c & 1 else c >> 1
            table.append(c)
        _crc64nvme.table = table
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


_crc64nvme.table = None


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def crc64nvme_b64(data):
    return base64.b64encode(_crc64nvme(data).to_bytes(8, "big")).decode()


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256)


class Raw:
    """Signed raw requests to one store's plain-HTTP port."""

    def __init__(self, store):
        self.store = store
        self.port = store.ports["http"]

    def path(self, key, bucket=None):
        return f"/{bucket or self.store.bucket}/" + urllib.parse.quote(key, safe="/~")

    def signed(self, method, path, headers, body, content_sha):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        h = dict(headers)
        h["X-Amz-Content-SHA256"] = content_sha
        url = f"http://127.0.0.1:{self.port}{path}"
        req = AWSRequest(method=method, url=url, data=body if not callable(body) else b"", headers=h)
        SigV4Auth(Credentials(self.store.access, self.store.secret), "s3", self.store.region).add_auth(req)
        return req

    def send(self, method, path, headers, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, r.read().decode("utf-8", "replace"), dict(r.getheaders())
        finally:
            conn.close()

    def put(self, key, data=DATA, headers=None, content_sha=None, bucket=None):
        path = self.path(key, bucket)
        req = self.signed("PUT", path, headers or {}, data, content_sha or hashlib.sha256(data).hexdigest())
        return self.send("PUT", path, dict(req.headers.items()), data)

    def put_chunked(self, key, mode, data=DATA, chunk=8192, trailer=None, extra=None,
                    trailer_sts="AWS4-HMAC-SHA256-TRAILER", trailer_after_data=False):
        """aws-chunked PUT: mode is the x-amz-content-sha256 value; trailer (name, value)."""
        path = self.path(key)
        h = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))}
        h.update(extra or {})
        if trailer:
            h["x-amz-trailer"] = trailer[0]
        req = self.signed("PUT", path, h, b"", mode)
        headers = dict(req.headers.items())
        auth = headers["Authorization"]
        seed = re.search(r"Signature=([0-9a-f]+)", auth).group(1)
        stamp = headers["X-Amz-Date"]
        scope = f"{stamp[:8]}/{self.store.region}/s3/aws4_request"
        k = _hmac(("AWS4" + self.store.secret).encode(), stamp[:8]).digest()
        for part in (self.store.region, "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        signed = mode.startswith("STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
        body, prev = b"", seed
        for piece in pieces:
            if signed:
                sts = (f"AWS4-HMAC-SHA256-PAYLOAD\n{stamp}\n{scope}\n{prev}\n{EMPTY_SHA}\n"
                       f"{hashlib.sha256(piece).hexdigest()}")
                sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
                body += f"{len(piece):x};chunk-signature={sig}\r\n".encode()
                if piece or not trailer_after_data:  # else the trailer chains from the last data chunk
                    prev = sig
            else:
                body += f"{len(piece):x}\r\n".encode()
            body += piece
            if piece or not trailer:
                body += b"\r\n"
        if trailer:
            line = f"{trailer[0]}:{trailer[1]}"
            body += (line + "\r\n").encode()
            if signed:
                sts = (f"{trailer_sts}\n{stamp}\n{scope}\n{prev}\n"
                       f"{hashlib.sha256((line + chr(10)).encode()).hexdigest()}")
                tsig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
                body += f"x-amz-trailer-signature:{tsig}\r\n".encode()
            body += b"\r\n"
        headers["Content-Length"] = str(len(body))
        return self.send("PUT", path, headers, body)


def answer(status, body):
    code = re.search(r"<Code>([^<]*)</Code>", body)
    msg = re.search(r"<Message>([^<]*)</Message>", body)
    if code:
        return f"{status} {code.group(1)}" + (f": {msg.group(1)}" if msg and msg.group(1) else "")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip()
    return f"{status}" + (f" {text[:160]}" if text else "")


def readback_ok(store, key, want=DATA):
    try:
        got = store.client("http").get_object(Bucket=store.bucket, Key=key)["Body"].read()
        return "" if got == want else f" (but read back {len(got)} other bytes)"
    except Exception as e:
        return f" (but read back: {e})"


def facts(store, err_text):
    """[(what was sent, what the store answered)] for one started store."""
    raw = Raw(store)
    c = store.client("http")
    b = store.bucket
    out = []

    def fact(what, fn):
        try:
            out.append((what, fn()))
        except Exception as e:
            out.append((what, f"(probe failed: {err_text(e)})"))

    def put_and_check(key, **kw):
        st, body, _ = raw.put(key, **kw)
        return answer(st, body) + (readback_ok(store, key) if st == 200 else "")

    def chunked(key, mode, **kw):
        st, body, _ = raw.put_chunked(key, mode, **kw)
        return answer(st, body) + (readback_ok(store, key) if st == 200 else "")

    fact("PUT signed payload", lambda: put_and_check("facts/signed"))
    fact("PUT UNSIGNED-PAYLOAD", lambda: put_and_check("facts/unsigned", content_sha="UNSIGNED-PAYLOAD"))
    fact("PUT signed + x-amz-checksum-crc32 header",
         lambda: put_and_check("facts/crc32", headers={"x-amz-checksum-crc32": crc32_b64(DATA)}))
    fact("PUT signed + x-amz-checksum-crc32 header, wrong value",
         lambda: put_and_check("facts/crc32-wrong", headers={"x-amz-checksum-crc32": "AAAAAA=="}))
    fact("PUT signed + x-amz-checksum-crc64nvme header",
         lambda: put_and_check("facts/crc64", headers={"x-amz-checksum-crc64nvme": crc64nvme_b64(DATA)}))
    fact("PUT STREAMING-AWS4-HMAC-SHA256-PAYLOAD (signed 8 KiB chunks)",
         lambda: chunked("facts/streaming", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"))
    fact("PUT STREAMING-UNSIGNED-PAYLOAD-TRAILER + x-amz-checksum-crc32 trailer",
         lambda: chunked("facts/unsigned-trailer", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", chunk=65536,
                         trailer=("x-amz-checksum-crc32", crc32_b64(DATA))))
    fact("PUT STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER + signed crc32 trailer",
         lambda: chunked("facts/signed-trailer", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                         trailer=("x-amz-checksum-crc32", crc32_b64(DATA))))
    # Garage 2.5.0 (garage_api_common signature/streaming.rs) checks the trailer signature with
    # "AWS4-HMAC-SHA256-PAYLOAD" where the S3 guide says "AWS4-HMAC-SHA256-TRAILER", and chains
    # it from the last data chunk's signature (it never checks the 0-length chunk's): this
    # shows which of the two a store takes.
    fact("  the same, trailer signed as Garage 2.5.0 checks it: AWS4-HMAC-SHA256-PAYLOAD, chained from the last data chunk",
         lambda: chunked("facts/signed-trailer-garage", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                         trailer=("x-amz-checksum-crc32", crc32_b64(DATA)), trailer_sts="AWS4-HMAC-SHA256-PAYLOAD",
                         trailer_after_data=True))

    def encoding():
        key = "facts/gzip-encoding"
        st, body, _ = raw.put_chunked(key, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                                      extra={"Content-Encoding": "aws-chunked,gzip"})
        if st != 200:
            return answer(st, body)
        return f"{st}; stored Content-Encoding: {c.head_object(Bucket=b, Key=key).get('ContentEncoding')!r}"
    fact("PUT aws-chunked with Content-Encoding: aws-chunked,gzip: what is stored", encoding)

    def if_none_match():
        c.put_object(Bucket=b, Key="facts/exists", Body=b"first")
        st, body, _ = raw.put("facts/exists", data=b"second", headers={"If-None-Match": "*"})
        now = c.get_object(Bucket=b, Key="facts/exists")["Body"].read()
        return answer(st, body) + ("; the object was overwritten" if now != b"first" else "; object unchanged")
    fact("PUT If-None-Match: * on an existing key", if_none_match)

    def if_match_wrong():
        c.put_object(Bucket=b, Key="facts/ifmatch", Body=b"first")
        st, body, _ = raw.put("facts/ifmatch", data=b"second", headers={"If-Match": '"0123456789abcdef0123456789abcdef"'})
        now = c.get_object(Bucket=b, Key="facts/ifmatch")["Body"].read()
        return answer(st, body) + ("; the object was overwritten" if now != b"first" else "; object unchanged")
    fact("PUT If-Match: a wrong ETag", if_match_wrong)

    def if_match_right(quoted):
        def fn():
            key = f"facts/ifmatch-right-{'q' if quoted else 'u'}"
            etag = c.put_object(Bucket=b, Key=key, Body=b"first")["ETag"]
            tag = etag if quoted else etag.strip('"')
            st, body, _ = raw.put(key, data=b"second", headers={"If-Match": tag})
            now = c.get_object(Bucket=b, Key=key)["Body"].read()
            return answer(st, body) + ("; overwritten" if now == b"second" else "; object unchanged")
        return fn
    fact('PUT If-Match: the current ETag, quoted ("...")', if_match_right(True))
    fact("PUT If-Match: the current ETag, unquoted", if_match_right(False))

    def complete():
        key = "facts/multipart"
        uid = c.create_multipart_upload(Bucket=b, Key=key)["UploadId"]
        etag = c.upload_part(Bucket=b, Key=key, UploadId=uid, PartNumber=1, Body=DATA)["ETag"]
        xml = (f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>"
               f"</CompleteMultipartUpload>").encode()
        path = raw.path(key) + "?uploadId=" + urllib.parse.quote(uid, safe="")
        req = raw.signed("POST", path, {}, xml, hashlib.sha256(xml).hexdigest())
        st, body, _ = raw.send("POST", path, dict(req.headers.items()), xml)
        m = re.search(r"<ETag>(.*?)</ETag>", body, re.S)
        head = c.head_object(Bucket=b, Key=key).get("ETag")
        return f"{st}; <ETag>{m.group(1) if m else '(no ETag element)'}</ETag>; HEAD then gives ETag {head}"
    fact("CompleteMultipartUpload (1 part): the answer's ETag", complete)

    def complete_conditional():
        key = "facts/multipart-exists"
        c.put_object(Bucket=b, Key=key, Body=b"first")
        uid = c.create_multipart_upload(Bucket=b, Key=key)["UploadId"]
        etag = c.upload_part(Bucket=b, Key=key, UploadId=uid, PartNumber=1, Body=DATA)["ETag"]
        xml = (f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>"
               f"</CompleteMultipartUpload>").encode()
        path = raw.path(key) + "?uploadId=" + urllib.parse.quote(uid, safe="")
        req = raw.signed("POST", path, {"If-None-Match": "*"}, xml, hashlib.sha256(xml).hexdigest())
        st, body, _ = raw.send("POST", path, dict(req.headers.items()), xml)
        now = c.get_object(Bucket=b, Key=key)["Body"].read()
        try:
            c.abort_multipart_upload(Bucket=b, Key=key, UploadId=uid)
        except Exception:
            pass
        return (answer(st, body) if st != 200 else "200") + (
            "; the object was overwritten" if now != b"first" else "; object unchanged")
    fact("CompleteMultipartUpload with If-None-Match: * on an existing key", complete_conditional)

    def list_uploads():
        r = c.list_multipart_uploads(Bucket=b, Prefix="facts/")
        return f"200, {len(r.get('Uploads', []))} upload(s) under facts/"
    fact("ListMultipartUploads (GET /BUCKET?uploads&prefix=)", list_uploads)

    def sigv2():
        import boto3
        from botocore.config import Config
        v2 = boto3.client("s3", endpoint_url=store.endpoint("http"), region_name=store.region,
                          aws_access_key_id=store.access, aws_secret_access_key=store.secret,
                          config=Config(signature_version="s3", s3={"addressing_style": "path"},
                                        retries={"max_attempts": 1}))
        v2.put_object(Bucket=b, Key="facts/sigv2", Body=DATA, ACL="public-read")
        return "200" + readback_ok(store, "facts/sigv2")
    fact("PUT SigV2 (boto3 signature_version=s3) with x-amz-acl: public-read", sigv2)

    def acl():
        c.put_object(Bucket=b, Key="facts/public", Body=b"public", ACL="public-read")
        grants = c.get_object_acl(Bucket=b, Key="facts/public").get("Grants", [])
        return "GetObjectAcl grants " + ", ".join(
            f"{g.get('Grantee', {}).get('URI', g.get('Grantee', {}).get('ID', '?')).rsplit('/', 1)[-1]}:{g.get('Permission')}"
            for g in grants)
    fact("PUT x-amz-acl: public-read (SigV4), then GetObjectAcl", acl)

    def presigned():
        import urllib.request
        import urllib.error
        url = c.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "facts/presigned"}, ExpiresIn=600)
        try:
            # a small body: a store that refuses before reading a larger one may not close
            r = urllib.request.urlopen(urllib.request.Request(url, data=b"presigned", method="PUT"), timeout=10)
            return f"{r.status}" + readback_ok(store, "facts/presigned", b"presigned")
        except urllib.error.HTTPError as e:
            return answer(e.code, e.read().decode("utf-8", "replace"))
    fact("PUT to a SigV4 presigned URL (boto3)", presigned)

    fact("PUT to a missing bucket", lambda: put_and_check("facts/x", bucket="s3push-interop-missing"))
    def leading():
        c.put_object(Bucket=b, Key="/facts/leading", Body=DATA)
        return "200" + readback_ok(store, "/facts/leading")
    fact("PUT a key starting with '/' (boto3)", leading)
    return out
