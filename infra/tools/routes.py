# One-off helper used while writing template.yaml: prints Route resources. Kept for adding routes.
import sys
ROUTES = [
  # (logical, method, path, function, auth) auth: None | "jwt" | [scopes]
  ("AccountsJwks", "GET", "/.well-known/jwks.json", "Accounts", None),
  ("AccountsOpenIdConfig", "GET", "/.well-known/openid-configuration", "Accounts", None),
  ("AuthRegister", "POST", "/api/auth/register", "Accounts", None),
  ("AuthLogin", "POST", "/api/auth/login", "Accounts", None),
  ("AuthRefresh", "POST", "/api/auth/refresh", "Accounts", None),
  ("AuthLogout", "POST", "/api/auth/logout", "Accounts", None),
  ("AuthForgotPassword", "POST", "/api/auth/forgot-password", "Accounts", None),
  ("AuthResetPassword", "POST", "/api/auth/reset-password", "Accounts", None),
  ("AuthLogoutAll", "POST", "/api/auth/logout-all", "Accounts", "jwt"),
  ("AuthProfile", "GET", "/api/auth/profile", "Accounts", "jwt"),
  ("UsersMeGet", "GET", "/api/users/me", "Accounts", "jwt"),
  ("UsersMePatch", "PATCH", "/api/users/me", "Accounts", "jwt"),
  ("UsersMePassword", "POST", "/api/users/me/password", "Accounts", "jwt"),
  ("UsersMeSessionsList", "GET", "/api/users/me/sessions", "Accounts", "jwt"),
  ("UsersMeSessionDelete", "DELETE", "/api/users/me/sessions/{id}", "Accounts", "jwt"),
  ("AddressesList", "GET", "/api/users/me/addresses", "Accounts", "jwt"),
  ("AddressesCreate", "POST", "/api/users/me/addresses", "Accounts", "jwt"),
  ("AddressGet", "GET", "/api/users/me/addresses/{id}", "Accounts", "jwt"),
  ("AddressPut", "PUT", "/api/users/me/addresses/{id}", "Accounts", "jwt"),
  ("AddressDelete", "DELETE", "/api/users/me/addresses/{id}", "Accounts", "jwt"),
  ("UsersAdminList", "GET", "/api/users", "Accounts", ["admin"]),
  ("UsersAdminPatch", "PATCH", "/api/users/{id}", "Accounts", ["admin"]),
  ("CategoriesList", "GET", "/api/categories", "Catalog", None),
  ("CategoriesCreate", "POST", "/api/categories", "Catalog", ["admin"]),
  ("CategoriesTree", "GET", "/api/categories/tree", "Catalog", None),
  ("CategoryBySlug", "GET", "/api/categories/slug/{slug}", "Catalog", None),
  ("CategoryGet", "GET", "/api/categories/{id}", "Catalog", None),
  ("CategoryPut", "PUT", "/api/categories/{id}", "Catalog", ["admin"]),
  ("CategoryDelete", "DELETE", "/api/categories/{id}", "Catalog", ["admin"]),
  ("ProductsCreate", "POST", "/api/products", "Catalog", ["seller", "admin"]),
  ("ProductsFeatured", "GET", "/api/products/featured", "Catalog", None),
  ("ProductBySlug", "GET", "/api/products/slug/{slug}", "Catalog", None),
  ("ProductBySku", "GET", "/api/products/sku/{sku}", "Catalog", None),
  ("ProductGet", "GET", "/api/products/{id}", "Catalog", None),
  ("ProductPut", "PUT", "/api/products/{id}", "Catalog", ["seller", "admin"]),
  ("ProductDelete", "DELETE", "/api/products/{id}", "Catalog", ["seller", "admin"]),
  ("SellerProducts", "GET", "/api/seller/products", "Catalog", ["seller", "admin"]),
  ("ProductImageUploadUrl", "POST", "/api/products/{id}/images/upload-url", "Catalog", ["seller", "admin"]),
  ("ProductImageDelete", "DELETE", "/api/products/{id}/images/{imageId}", "Catalog", ["seller", "admin"]),
]
import sys
ONLY = sys.argv[1] if len(sys.argv) > 1 else None
for logical, method, path, fn, auth in ROUTES:
    if ONLY and fn != ONLY:
        continue
    print(f"  Route{logical}:")
    print("    Type: AWS::ApiGatewayV2::Route")
    print("    Properties:")
    print("      ApiId: !Ref ShopApi")
    print(f"      RouteKey: {method} {path}")
    print(f"      Target: !Sub integrations/${{{fn}Integration}}")
    if auth:
        print("      AuthorizationType: JWT")
        print("      AuthorizerId: !Ref ShopJwtAuthorizer")
        if isinstance(auth, list):
            print(f"      AuthorizationScopes: [{', '.join(auth)}]")
    else:
        print("      AuthorizationType: NONE")
