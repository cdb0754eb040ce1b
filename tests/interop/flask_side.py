"""The Flask-JWT-Extended side of Warden's interop test (tests/api/flask_interop.rs).

A minimal Flask app configured as a Flask-JWT-Extended user would configure it to share
Warden's HS256 key, driven through Flask's test client (no server, no port):

    flask_side.py mint <key> <identity> <additional-claims-json>
        prints an access token made by create_access_token(identity, additional_claims)
    flask_side.py verify <key> <token>
        calls a @jwt_required() view with the token as a Bearer header; prints
        get_jwt_identity() and exits 0 when the view answered 200, else prints the answer
        to stderr and exits 1
"""

import json
import sys

from flask import Flask, jsonify
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    get_jwt_identity,
    jwt_required,
)


def make_app(key: str) -> Flask:
    app = Flask(__name__)
    app.config["JWT_SECRET_KEY"] = key
    app.config["JWT_ALGORITHM"] = "HS256"
    app.config["JWT_TOKEN_LOCATION"] = ["headers"]
    JWTManager(app)

    @app.get("/protected")
    @jwt_required()
    def protected():
        return jsonify(identity=get_jwt_identity())

    return app


def main(argv: list[str]) -> int:
    if len(argv) == 5 and argv[1] == "mint":
        _, _, key, identity, claims = argv
        app = make_app(key)
        with app.app_context():
            print(create_access_token(identity=identity, additional_claims=json.loads(claims)))
        return 0
    if len(argv) == 4 and argv[1] == "verify":
        _, _, key, token = argv
        client = make_app(key).test_client()
        answer = client.get("/protected", headers={"Authorization": f"Bearer {token}"})
        if answer.status_code != 200:
            print(f"{answer.status_code} {answer.get_data(as_text=True)}", file=sys.stderr)
            return 1
        print(answer.get_json()["identity"])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
