//! One OpenAPI 3.1 document for the whole API, merged from each function's generated document,
//! and a self-contained docs page (no CDN: the local cloud works offline).

use serde_json::json;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::{HttpMethod, Operation};

/// The merged document of every function's routes.
pub fn openapi() -> OpenApi {
    let mut doc = accounts::openapi();
    doc.merge(catalog::openapi());
    doc.merge(inventory::openapi());
    doc.merge(cart::openapi());
    doc.merge(orders::openapi());
    doc.merge(payments::openapi());
    doc.merge(health::openapi());
    doc.paths.add_path_operation(payments::webhook::PATH, vec![HttpMethod::Post], stripe_webhook());
    doc.info.title = "Skyshop API".into();
    doc.info.description = Some(
        "The Skyshop HTTP API. Errors are RFC 9457 application/problem+json with a stable `code`. \
         Money is integer cents. Protected routes take `Authorization: Bearer <accessToken>`."
            .into(),
    );
    doc
}

/// `POST /api/payments/webhook`: Stripe's endpoint, not a client's (its own function,
/// `stripe-webhook`, with no authorizer), so it is described here rather than generated.
pub fn stripe_webhook() -> Operation {
    let problem = json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
    let operation = json!({
        "tags": ["payments"],
        "operationId": "stripe_webhook",
        "summary": "Stripe's webhook (Stripe calls it; no bearer token)",
        "description": "Stripe delivers its events here. No authorizer and no WAF rate rule: the request \
            is proven by `Stripe-Signature` over the raw body with the endpoint's signing secret \
            (`whsec_…`, 300 s tolerance). Each event is recorded by its id before it is acted on; a \
            processed event delivered again answers 200 with `duplicate: true`. Handled: \
            `payment_intent.succeeded`, `.payment_failed`, `.canceled`, `.processing`, `.requires_action` \
            (the payment and its order are settled), `charge.refunded` (refunds synchronised), \
            `charge.dispute.created` (dispute recorded, order flagged); other types are acknowledged \
            and ignored.",
        "parameters": [{
            "name": "Stripe-Signature",
            "in": "header",
            "required": true,
            "description": "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\" with the endpoint secret>` (Stripe may add more `v1=` and a `v0=`)",
            "schema": {"type": "string"}
        }],
        "requestBody": {
            "required": true,
            "description": "A Stripe event, exactly as Stripe sent it (the signature covers these bytes).",
            "content": {"application/json": {"schema": {
                "type": "object",
                "required": ["id", "type", "data"],
                "properties": {
                    "id": {"type": "string", "example": "evt_1Sample"},
                    "type": {"type": "string", "example": "payment_intent.succeeded"},
                    "created": {"type": "integer", "format": "int64"},
                    "data": {"type": "object", "required": ["object"], "properties": {"object": {"type": "object", "description": "The PaymentIntent, Charge or Dispute"}}}
                },
                "additionalProperties": true
            }}}
        },
        "responses": {
            "200": {
                "description": "Verified and handled (or a duplicate of a handled event)",
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["received"],
                    "properties": {"received": {"type": "boolean"}, "duplicate": {"type": "boolean"}}
                }}}
            },
            "400": {
                "description": "`signature_missing` (no Stripe-Signature), `signature_invalid` (it does not match the body), `signature_expired` (its timestamp is more than 300 s from now), `invalid_event` (verified, but not a Stripe event). Stripe retries; nothing was recorded.",
                "content": problem.clone()
            },
            "503": {
                "description": "The event was recorded but could not be acted on (Stripe, orders, the database or the signing secret unavailable). Stripe retries, and the reconciliation job handles recorded events left unprocessed. Retry-After is set.",
                "content": problem
            }
        }
    });
    serde_json::from_value(operation).unwrap_or_default()
}

/// `/api/docs`: renders `/api/openapi.json` in the browser.
pub const DOCS_HTML: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Skyshop API</title>
<style>
body{font:14px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#222}
h1{margin-bottom:0}.op{border:1px solid #ddd;border-radius:6px;margin:.5rem 0;padding:.5rem .8rem}
.m{display:inline-block;min-width:4.5rem;font-weight:700;text-transform:uppercase}
.get{color:#0a7}.post{color:#07c}.put{color:#b70}.patch{color:#a5c}.delete{color:#c33}
code{background:#f4f4f4;padding:0 .3rem;border-radius:3px}details pre{background:#f8f8f8;padding:.5rem;overflow:auto}
.lock{color:#888;font-size:12px}
</style></head><body>
<h1>Skyshop API</h1><p id="desc"></p><div id="ops">Loading <code>/api/openapi.json</code>…</div>
<script>
fetch('/api/openapi.json').then(r=>r.json()).then(doc=>{
  document.getElementById('desc').textContent=doc.info.description||'';
  const ops=document.getElementById('ops');ops.innerHTML='';
  const byTag={};
  for(const [path,item] of Object.entries(doc.paths)){for(const [method,op] of Object.entries(item)){
    const tag=(op.tags||['other'])[0];(byTag[tag]=byTag[tag]||[]).push({path,method,op});}}
  for(const [tag,list] of Object.entries(byTag)){
    const h=document.createElement('h2');h.textContent=tag;ops.appendChild(h);
    for(const {path,method,op} of list){
      const d=document.createElement('details');d.className='op';
      const s=document.createElement('summary');
      s.innerHTML=`<span class="m ${method}">${method}</span> <code></code> <span class="lock"></span>`;
      s.querySelector('code').textContent=path;
      if(op.security){s.querySelector('.lock').textContent='🔒 '+op.security.map(x=>Object.entries(x).map(([k,v])=>v.length?v.join(','):k).join()).join(' ');}
      d.appendChild(s);
      const p=document.createElement('pre');p.textContent=JSON.stringify({summary:op.summary,description:op.description,requestBody:op.requestBody,responses:op.responses,parameters:op.parameters},null,2);
      d.appendChild(p);ops.appendChild(d);}}
}).catch(e=>{document.getElementById('ops').textContent='Could not load the document: '+e});
</script></body></html>"#;
