"""Bodies copied verbatim from docs/api/: the reference the sandbox must match."""

import json


def _j(text: str) -> object:
    return json.loads(text)


# docs/api/api-particulier.md §Errors, v3 and v4.
PARTICULIER_ERRORS = {
    "00101": _j(
        '{"errors":[{"code":"00101","title":"Interdit","detail":"Votre token n\'est pas valide ou '
        'n\'est pas renseigné","source":{"parameter":"token"},"meta":{}}]}'
    ),
    "00103": _j(
        '{"errors":[{"code":"00103","title":"Jeton expiré","detail":"Votre token est expiré. Vous '
        'devez refaire une demande","source":{"parameter":"token"},"meta":{}}]}'
    ),
    "00105": _j(
        '{"errors":[{"code":"00105","title":"Jeton sur liste noire","detail":"Votre jeton est sur '
        "liste noire, celui-ci a certainement été divulgué sur un canal non-sécurisé. Vous pouvez "
        'trouver un jeton valide sur votre espace personnel: https://entreprise.api.gouv.fr/compte"'
        ',"source":{"parameter":"token"},"meta":{}}]}'
    ),
    "00100": _j(
        '{"errors":[{"code":"00100","title":"Privilèges insuffisants","detail":"Votre token est '
        "valide mais vos privilèges sont insuffisants. Listez vos privilèges sur /api/introspect"
        '","source":{"parameter":"token"},"meta":{}}]}'
    ),
    "30003": _j(
        '{"errors":[{"code":"30003","title":"Entité non trouvée","detail":"Aucun eleve n\'a pu '
        'etre trouve avec les criteres de recherche fournis","source":null,"meta":{"provider":'
        '"MEN"}}]}'
    ),
    "00015": _j(
        '{"errors":[{"code":"00015","title":"Conflit","detail":"Une requête associé à votre jeton '
        "est déjà en cours de traitement pour ces paramètres. Veuillez attendre la fin du "
        'traitement avant d\'effectuer une nouvelle requête.","source":null,"meta":{}}]}'
    ),
    "00419": _j(
        '{"errors":[{"code":"00419","title":"Entité non traitable","detail":"Les paramètres '
        "codeEtablissement et périmètre (codesBcnRegions/codesBcnDepartements) sont mutuellement "
        'exclusifs","source":null,"meta":{}}]}'
    ),
    "00203": _j(
        '{"errors":[{"code":"00203","title":"Entité non traitable","detail":"Le paramètre '
        'recipient est obligatoire","source":{"parameter":"recipient"},"meta":{}}]}'
    ),
    "00429": _j(
        '{"errors":[{"code":"00429","title":"Trop de requêtes","detail":"Vous avez effectué trop '
        'de requêtes","source":null,"meta":{}}]}'
    ),
    "30999": _j(
        '{"errors":[{"code":"30999","title":"Erreur inconnue du fournisseur de données","detail":'
        '"La réponse retournée par le fournisseur de données est invalide et inconnue de notre '
        "service. L'équipe technique a été notifiée de cette erreur pour investigation.\","
        '"source":null,"meta":{"provider":"MEN"}}]}'
    ),
    "30002": _j(
        '{"errors":[{"code":"30002","title":"Intermédiaire hors-délai","detail":"Temps d’attente '
        'd’une réponse du fournisseur de données écoulé.","source":null,"meta":{"provider":'
        '"MEN"}}]}'
    ),
    "30001": _j(
        '{"errors":[{"code":"30001","title":"Service non disponible","detail":"Service du '
        'fournisseur de données temporairement indisponible ou en maintenance.","source":null,'
        '"meta":{"provider":"MEN"}}]}'
    ),
    "00501": _j(
        '{"errors":[{"code":"00501","title":"Erreur réseau","detail":"Problème de connexion au '
        "serveur distant. L'erreur peut venir soit du fournisseur, soit de API Entreprise. Il "
        's\'agit souvent d\'une erreur temporaire.","source":null,"meta":{"retry_in":10}}]}'
    ),
    "30004": _j(
        '{"errors":[{"code":"30004","title":"Erreur de résolution DNS","detail":"Problème de '
        'résolution DNS de l\'adresse du serveur","source":null,"meta":{"provider":"MEN"}}]}'
    ),
}

# docs/api/api-particulier.md §Responses, verbatim v4 staging 200 (MARTIN EMMA).
V4_MARTIN_EMMA = _j(
    """{
  "data": {
    "identite": {"nom": "MARTIN", "prenom": "EMMA", "sexe": "F", "date_naissance": "2012-08-15"},
    "module_elementaire_formation": {
      "code_mef_stat": "211324099991",
      "libelle": "1CAP1 STAFFEUR ORNEMANISTE"
    },
    "annee_scolaire": "2025-2026",
    "est_scolarise": true,
    "statut_eleve": {"code": "ST", "libelle": "Scolaire"},
    "etablissement": {
      "code_uai": "0132733A",
      "nom": "Lycée Polyvalent Antonin Artaud",
      "code_ministere_tutelle": "06"
    },
    "est_boursier": true,
    "echelon_bourse": 1
  },
  "links": {},
  "meta": {}
}"""
)

# docs/api/api-particulier.md §Responses, verbatim v3 staging 200 (Martin Justine).
V3_MARTIN_JUSTINE = _j(
    """{
  "data": {
    "identite": {"nom": "Martin", "prenom": "Justine", "sexe": "F", "date_naissance": "2000-01-20"},
    "module_elementaire_formation": {
        "code_mef_stat": "211324099991",
        "libelle": "1CAP1 STAFFEUR ORNEMANISTE"
    },
    "annee_scolaire": "2022-2023",
    "est_scolarise": true,
    "statut_eleve": {"code": "ST", "libelle": "Scolaire"},
    "etablissement": {"code_uai": "0210015C", "code_ministere_tutelle": "06"},
    "est_boursier": true,
    "echelon_bourse": 1
  },
  "links": {},
  "meta": {}
}"""
)

# docs/api/api-particulier.md §Responses and §Errors, v2 legacy shapes.
V2_MARTIN_JUSTINE = _j(
    """{
  "eleve": {"nom": "Martin", "prenom": "Justine", "sexe": "F", "date_naissance": "2000-01-20"},
  "code_etablissement": "0890003V",
  "annee_scolaire": "2022-2023",
  "est_scolarise": true,
  "est_boursier": true,
  "status_eleve": {"code": "ST", "libelle": "Scolaire"}
}"""
)
V2_NOT_FOUND = {
    "error": "not_found",
    "reason": "Student not found",
    "message": "Aucun étudiant n'a pu être trouvé avec les critères de recherche fournis",
}
V2_BAD_GENDER = {
    "error": "unprocessable_entity_error_gender_error",
    "reason": "Entité non traitable",
    "message": "Le sexe n'est pas correctement formaté (m ou f)",
}

# docs/api/cvec.md §Responses, docs/api/cvec.md §Validity, docs/api/cvec.md §Errors.
CVEC_ILLUSTRATIVE = _j(
    """{
  "nom": "DUPONT",
  "nomUsage": "",
  "prenom": "CAMILLE",
  "sexe": "2",
  "date_naissance": "01/02/2005",
  "ine": "123456789AB",
  "crous": "Crous de Lyon",
  "etat": { "code": "75", "libelle": "..." },
  "exoneration": { "active": false, "motif": "" }
}"""
)
CVEC_NOT_FOUND_MESSAGE = "L'attestation n'a pas été trouvée."
CVEC_MISSING_CODE_MESSAGE = "Le paramètre code est manquant."
CVEC_VALID_STATES = {"70", "71", "73", "75", "76", "98"}

# docs/api/covoiturage.md §Errors, docs/api/covoiturage.md §Rate limits.
COVOITURAGE_TOO_MANY = {"error": {"code": 429, "message": "Too many requests"}}
COVOITURAGE_MAINTENANCE = {"code": 503, "error": "Service Unavailable"}


def covoiturage_not_found(uuid: str) -> dict:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {
            "data": f"Certificate not found: null - {uuid}",
            "code": -32504,
            "message": "Not found",
        },
    }
