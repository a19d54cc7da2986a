"""Specification of the crypto core's boundaries: no web or database code, no weak modes.

The app's own glue (SQL key store, model fields, Flask runtime) lives beside these modules in
app/crypto but is not part of the pure library checked here.
"""

import ast
from pathlib import Path

import app.crypto

PACKAGE = Path(app.crypto.__file__).parent
FORBIDDEN_IMPORTS = ("flask", "sqlalchemy", "werkzeug", "random", "pickle")
FORBIDDEN_NAMES = ("Fernet", "CBC", "ECB")


CORE_MODULES = (
    "__init__",
    "errors",
    "providers",
    "keyring",
    "cipher",
    "blind_index",
    "files",
    "backup",
)


def modules():
    return [PACKAGE / f"{name}.py" for name in CORE_MODULES]


def test_crypto_modules_import_neither_web_nor_database_code():
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN_IMPORTS, f"{path.name} imports {name}"


def test_crypto_modules_use_no_fernet_cbc_or_ecb():
    for path in modules():
        nodes = list(ast.walk(ast.parse(path.read_text())))
        names = {node.id for node in nodes if isinstance(node, ast.Name)}
        names |= {node.attr for node in nodes if isinstance(node, ast.Attribute)}
        names |= {
            alias.name for node in nodes if isinstance(node, ast.ImportFrom) for alias in node.names
        }
        assert not names & set(FORBIDDEN_NAMES), path.name


def test_every_crypto_module_opens_with_a_one_sentence_docstring():
    for path in modules():
        docstring = ast.get_docstring(ast.parse(path.read_text()))
        assert docstring, path.name
        assert docstring.splitlines()[0].endswith("."), path.name


def test_public_api_is_exported_from_the_package():
    for name in app.crypto.__all__:
        assert hasattr(app.crypto, name), name
